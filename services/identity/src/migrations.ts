import type { Migration } from "@flotilla/kit";

/**
 * Identity's schema, in order. Applied migrations are never edited: add a new one.
 * Email and phone are stored encrypted by the kit field cipher (`*_enc`), with
 * a keyed blind index for lookups; passwords as argon2id hashes; refresh
 * tokens, codes and client secrets as SHA-256 of 256-bit random values.
 */
export const migrations: readonly Migration[] = [
  {
    id: "0001_accounts_roles_clients",
    sql: `
      CREATE TABLE accounts (
        account_id     text PRIMARY KEY,
        email_enc      text NOT NULL,
        email_index    text NOT NULL UNIQUE,
        password_hash  text NOT NULL,
        display_name   text NOT NULL DEFAULT '',
        phone_enc      text,
        created_at     timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE roles (
        name         text PRIMARY KEY,
        permissions  text NOT NULL DEFAULT '[]'
      );
      CREATE TABLE account_roles (
        account_id  text NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
        role        text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
        PRIMARY KEY (account_id, role)
      );
      -- Lists are JSON text, readable the same way on PGlite and PostgreSQL.
      CREATE TABLE clients (
        client_id      text PRIMARY KEY,
        secret_hash    text,
        confidential   boolean NOT NULL,
        first_party    boolean NOT NULL DEFAULT false,
        redirect_uris  text NOT NULL DEFAULT '[]',
        grant_types    text NOT NULL DEFAULT '[]',
        scopes         text NOT NULL DEFAULT '[]',
        permissions    text NOT NULL DEFAULT '[]',
        created_at     timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO roles (name, permissions) VALUES ('admin', '["identity:admin","catalog:write"]');
      -- The first-party mobile app: public (no secret), PKCE and the password grant.
      INSERT INTO clients (client_id, confidential, first_party, redirect_uris, grant_types, scopes)
      VALUES ('flotilla-mobile', false, true, '["flotilla://oauth/callback","http://127.0.0.1/callback"]',
              '["authorization_code","refresh_token","password"]', '["openid","profile","email","phone","offline_access"]');
    `,
  },
  {
    id: "0002_keys_tokens_sessions",
    sql: `
      CREATE TABLE signing_keys (
        kid          text PRIMARY KEY,
        private_enc  text NOT NULL,
        public_jwk   text NOT NULL,
        created_at   timestamptz NOT NULL,
        retired_at   timestamptz
      );
      -- One session per refresh-token family (a device signed in once).
      CREATE TABLE sessions (
        session_id    text PRIMARY KEY,
        account_id    text NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
        client_id     text NOT NULL,
        scope         text NOT NULL,
        device_name   text NOT NULL DEFAULT '',
        user_agent    text NOT NULL DEFAULT '',
        created_at    timestamptz NOT NULL,
        last_used_at  timestamptz NOT NULL,
        expires_at    timestamptz NOT NULL,
        revoked_at    timestamptz
      );
      CREATE INDEX sessions_by_account ON sessions (account_id, created_at);
      CREATE TABLE refresh_tokens (
        token_hash  text PRIMARY KEY,
        session_id  text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        created_at  timestamptz NOT NULL,
        -- Set when the token was exchanged for the next one: presenting it again is reuse.
        rotated_at  timestamptz
      );
      CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
      CREATE TABLE authorization_codes (
        code_hash       text PRIMARY KEY,
        client_id       text NOT NULL,
        account_id      text NOT NULL,
        redirect_uri    text NOT NULL,
        scope           text NOT NULL,
        nonce           text NOT NULL DEFAULT '',
        code_challenge  text NOT NULL,
        expires_at      timestamptz NOT NULL,
        used_at         timestamptz,
        session_id      text
      );
      -- Access tokens revoked before their expiry (RFC 7009), kept until then.
      CREATE TABLE revoked_access_tokens (
        jti         text PRIMARY KEY,
        expires_at  timestamptz NOT NULL
      );
      -- Failed sign-ins per key ("account:<id>" or "ip:<address>").
      CREATE TABLE sign_in_failures (
        key            text PRIMARY KEY,
        failures       integer NOT NULL,
        last_failure   timestamptz NOT NULL,
        blocked_until  timestamptz
      );
    `,
  },
];
