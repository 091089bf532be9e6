import type { Migration } from "@flotilla/kit";

export const migrations: readonly Migration[] = [
  {
    id: "0001_conversations_and_messages",
    sql: `
      CREATE TABLE conversations (
        conversation_id text PRIMARY KEY,
        kind smallint NOT NULL,
        title text NOT NULL DEFAULT '',
        -- The sorted pair of a direct conversation: one per pair of people.
        direct_key text UNIQUE,
        -- Seq of the newest message; bumped under the row lock of each send,
        -- so seqs have no gap and no duplicate.
        last_seq bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_activity_at timestamptz NOT NULL DEFAULT now(),
        last_message_at timestamptz
      );
      CREATE TABLE members (
        conversation_id text NOT NULL REFERENCES conversations (conversation_id),
        user_id text NOT NULL,
        read_seq bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, user_id)
      );
      CREATE INDEX members_by_user ON members (user_id);
      CREATE TABLE messages (
        conversation_id text NOT NULL REFERENCES conversations (conversation_id),
        seq bigint NOT NULL,
        message_id text NOT NULL UNIQUE,
        sender_id text NOT NULL,
        client_message_id text NOT NULL,
        text text NOT NULL,
        sent_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, seq),
        UNIQUE (conversation_id, sender_id, client_message_id)
      );
    `,
  },
  {
    id: "0002_members_version",
    sql: `
      -- Bumped by every change of a conversation's members, in the same
      -- transaction and under the conversation's row lock: a replica keeps a
      -- member list only with the version it was read at (member-lists.ts).
      ALTER TABLE conversations ADD COLUMN members_version bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    id: "0003_members_announced",
    sql: `
      -- The members_version last published as messaging.members_changed.v1.
      -- A conversation created from now on is announced in its creating
      -- transaction; NULL (every conversation older than this migration) or an
      -- older version is announced by the service's announcer (announcer.ts).
      ALTER TABLE conversations ADD COLUMN members_announced bigint;
      CREATE INDEX conversations_unannounced ON conversations (conversation_id)
        WHERE members_announced IS DISTINCT FROM members_version;
    `,
  },
  {
    id: "0004_presence",
    sql: `
      -- Each replica's lease on its presence rows (realtime/presence.ts): a
      -- replica whose lease ended is dead, and its rows are swept.
      CREATE TABLE realtime_replicas (
        replica_id  text PRIMARY KEY,
        lease_until timestamptz NOT NULL
      );
      -- A user with a socket on a replica.
      CREATE TABLE presence (
        user_id    text NOT NULL,
        replica_id text NOT NULL,
        PRIMARY KEY (user_id, replica_id)
      );
      CREATE INDEX presence_by_replica ON presence (replica_id);
    `,
  },
];
