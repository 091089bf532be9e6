import type { Migration } from "../db/types.ts";

/**
 * The saga tables, in the service's own database. Apply them with the
 * service's migrations: `migrate(db, [...sagaMigrations, ...own])`.
 */
export const sagaMigrations: readonly Migration[] = [
  {
    id: "kit_saga_0001_create_sagas_and_steps",
    sql: `
CREATE TABLE flotilla_sagas (
  id text PRIMARY KEY CHECK (id <> ''),
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'compensated', 'failed_compensation')),
  input jsonb NOT NULL,
  step_index integer NOT NULL,
  results jsonb NOT NULL DEFAULT '{}',
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_until timestamptz
);
-- What a poller scans: sagas not ended, by lease expiry.
CREATE INDEX flotilla_sagas_due ON flotilla_sagas (lease_until NULLS FIRST) WHERE status IN ('running', 'compensating');
CREATE INDEX flotilla_sagas_status ON flotilla_sagas (status, created_at);
CREATE TABLE flotilla_saga_steps (
  saga_id text NOT NULL REFERENCES flotilla_sagas (id) ON DELETE CASCADE,
  step text NOT NULL,
  phase text NOT NULL CHECK (phase IN ('run', 'compensate')),
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
  attempts integer NOT NULL DEFAULT 0,
  result jsonb,
  error text,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ended_at timestamptz,
  PRIMARY KEY (saga_id, step, phase)
);`,
  },
];
