import type { Migration } from "../db/types.ts";

/**
 * The outbox table, in every service's database. The runtime applies these
 * with `migrate(db, outboxMigrations)` before the service's own migrations.
 *
 * `time` stays text so the event goes out byte for byte as it was written
 * (a timestamptz would normalise the RFC 3339 string). `next_attempt_at` is
 * both the retry time after a failure and the lease of a relay that claimed
 * the row: a row is due when it is in the past.
 */
export const outboxMigrations: readonly Migration[] = [
  {
    id: "kit_outbox_0001_create",
    sql: `CREATE TABLE flotilla_outbox (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  source text NOT NULL,
  type text NOT NULL,
  subject text,
  time text NOT NULL,
  dataschema text NOT NULL,
  traceparent text,
  tracestate text,
  data bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text
)`,
  },
  {
    // A row lives until the relay has published it, milliseconds: compressing
    // a large event (TOAST's default for bytea over ~2 KB) only costs CPU on
    // the write and again on the relay's read.
    id: "kit_outbox_0002_data_uncompressed",
    sql: "ALTER TABLE flotilla_outbox ALTER COLUMN data SET STORAGE EXTERNAL",
  },
];
