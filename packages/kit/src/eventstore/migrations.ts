import type { Migration } from "../db/types.ts";

/**
 * The event store's tables, in the service's own database. Apply them with
 * the service's migrations: `migrate(db, [...eventstoreMigrations, ...own])`.
 * Constraint names are explicit: append-errors.ts tells a version conflict
 * from a duplicate event id by them.
 */
export const eventstoreMigrations: readonly Migration[] = [
  {
    id: "kit_eventstore_0001_create_events_and_snapshots",
    sql: `
CREATE TABLE flotilla_events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream_id text NOT NULL CHECK (stream_id <> ''),
  version integer NOT NULL CHECK (version > 0),
  event_id text NOT NULL CONSTRAINT flotilla_events_event_id_key UNIQUE,
  type text NOT NULL CHECK (type <> ''),
  data bytea NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT flotilla_events_stream_version_key UNIQUE (stream_id, version)
);
CREATE TABLE flotilla_snapshots (
  stream_id text PRIMARY KEY,
  version integer NOT NULL CHECK (version > 0),
  state jsonb NOT NULL,
  taken_at timestamptz NOT NULL DEFAULT now()
);`,
  },
];
