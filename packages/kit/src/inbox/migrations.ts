import type { Migration } from "../db/types.ts";

/**
 * The inbox (which events each consumer has applied) and the dead letters
 * (events a consumer gave up on), in every service's database. The runtime
 * applies these with `migrate(db, inboxMigrations)`.
 *
 * A dead letter keeps the whole event, so that a replay needs nothing from
 * the broker (whose copy may have expired).
 */
export const inboxMigrations: readonly Migration[] = [
  {
    id: "kit_inbox_0001_create",
    sql: `CREATE TABLE flotilla_inbox (
  consumer text NOT NULL,
  event_id text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE INDEX flotilla_inbox_processed_at ON flotilla_inbox (processed_at)`,
  },
  {
    id: "kit_inbox_0002_dead_letters",
    sql: `CREATE TABLE flotilla_dead_letters (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer text NOT NULL,
  event_id text NOT NULL,
  source text NOT NULL,
  type text NOT NULL,
  subject text,
  time text NOT NULL,
  dataschema text NOT NULL,
  traceparent text,
  tracestate text,
  data bytea NOT NULL,
  error text NOT NULL,
  attempts integer NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT now(),
  replay_requested_at timestamptz,
  UNIQUE (consumer, event_id)
);
CREATE INDEX flotilla_dead_letters_replay ON flotilla_dead_letters (consumer, id) WHERE replay_requested_at IS NOT NULL`,
  },
];
