import type { Migration } from "@flotilla/kit";

/** The notifications schema, in order. Applied migrations are never edited: add a new one. */
export const migrations: readonly Migration[] = [
  {
    id: "0001_devices_and_preferences",
    sql: `
      CREATE TABLE devices (
        device_id     text PRIMARY KEY,
        user_id       text NOT NULL,
        provider      text NOT NULL CHECK (provider IN ('apns', 'fcm', 'webpush')),
        -- APNs/FCM token, or the Web Push endpoint URL.
        token         text NOT NULL,
        p256dh        text NOT NULL DEFAULT '',
        auth          text NOT NULL DEFAULT '',
        platform      integer NOT NULL,
        app_version   text NOT NULL DEFAULT '',
        locale        text NOT NULL DEFAULT '',
        active        boolean NOT NULL DEFAULT true,
        inactive_reason text NOT NULL DEFAULT '',
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        UNIQUE (provider, token)
      );
      CREATE INDEX devices_by_user ON devices (user_id) WHERE active;

      CREATE TABLE preferences (
        user_id     text PRIMARY KEY,
        quiet_start text NOT NULL DEFAULT '',
        quiet_end   text NOT NULL DEFAULT '',
        time_zone   text NOT NULL DEFAULT '',
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE muted_conversations (
        user_id         text NOT NULL,
        conversation_id text NOT NULL,
        PRIMARY KEY (user_id, conversation_id)
      );
    `,
  },
  {
    id: "0002_notifications",
    sql: `
      -- One row per (message, recipient): the unique key makes a redelivered
      -- or republished message_sent a no-op.
      CREATE TABLE notifications (
        notification_id text PRIMARY KEY,
        user_id         text NOT NULL,
        message_id      text NOT NULL,
        conversation_id text NOT NULL,
        title           text NOT NULL,
        body            text NOT NULL,
        state           text NOT NULL CHECK (state IN ('pending', 'sent', 'seen', 'suppressed', 'undelivered')),
        reason          text NOT NULL DEFAULT '',
        attempts        integer NOT NULL DEFAULT 0,
        due_at          timestamptz NOT NULL,
        -- A scheduler holding the row until then; another takes over after a crash.
        lease_until     timestamptz,
        created_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (message_id, user_id)
      );
      CREATE INDEX notifications_due ON notifications (due_at) WHERE state = 'pending';
      CREATE INDEX notifications_by_user ON notifications (user_id, created_at DESC);

      -- messaging.message_seen.v1 facts; kept even when they arrive before message_sent.
      CREATE TABLE seen_messages (
        message_id text NOT NULL,
        user_id    text NOT NULL,
        seen_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (message_id, user_id)
      );

      -- One row per attempt to one device. A 'sent', 'failed' or 'dead_token'
      -- row closes (notification, device): it is never pushed again.
      CREATE TABLE deliveries (
        notification_id text NOT NULL REFERENCES notifications ON DELETE CASCADE,
        device_id       text NOT NULL,
        provider        text NOT NULL,
        attempt         integer NOT NULL,
        outcome         text NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed', 'dead_token')),
        status          integer NOT NULL DEFAULT 0,
        reason          text NOT NULL DEFAULT '',
        provider_id     text NOT NULL DEFAULT '',
        at              timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (notification_id, device_id, attempt)
      );
      CREATE UNIQUE INDEX deliveries_final ON deliveries (notification_id, device_id) WHERE outcome <> 'retry';
    `,
  },
  {
    id: "0003_dev_vapid_keys",
    sql: `
      -- flotilla dev only: a VAPID key pair made at first start when none is configured,
      -- kept so that browsers' subscriptions stay valid across restarts.
      CREATE TABLE dev_vapid_keys (
        id          integer PRIMARY KEY CHECK (id = 1),
        public_key  text NOT NULL,
        private_key text NOT NULL
      );
    `,
  },
  {
    id: "0004_conversation_members",
    sql: `
      -- messaging.members_changed.v1, projected: the members of each
      -- conversation at the highest version seen. message_sent names only the
      -- version; its recipients are read here.
      CREATE TABLE conversation_versions (
        conversation_id text PRIMARY KEY,
        members_version bigint NOT NULL
      );
      CREATE TABLE conversation_members (
        conversation_id text NOT NULL,
        user_id         text NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
      );
    `,
  },
  {
    id: "0005_sealed_device_tokens",
    sql: `
      -- Tokens and Web Push keys are stored sealed from now on (device-secrets.ts);
      -- (provider, token) stays unique through the token's blind index. Rows
      -- stored before keep token_index NULL until the sealer rewrites them.
      ALTER TABLE devices ADD COLUMN token_index text;
      ALTER TABLE devices DROP CONSTRAINT devices_provider_token_key;
      CREATE UNIQUE INDEX devices_by_token_index ON devices (provider, token_index);
      CREATE INDEX devices_plain ON devices (provider, token) WHERE token_index IS NULL;
    `,
  },
];
