// Sessions (one per refresh-token family), refresh tokens, authorization codes
// and revoked access tokens: SQL only.
import type { Queryable } from "@flotilla/kit";

export interface SessionRow {
  session_id: string;
  account_id: string;
  client_id: string;
  scope: string;
  device_name: string;
  user_agent: string;
  created_at: Date | string;
  last_used_at: Date | string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
}

const iso = (d: Date) => d.toISOString();

export async function insertSession(
  db: Queryable,
  s: { sessionId: string; accountId: string; clientId: string; scope: string; deviceName: string; userAgent: string; now: Date; expiresAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO sessions (session_id, account_id, client_id, scope, device_name, user_agent, created_at, last_used_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $7::timestamptz, $8::timestamptz)`,
    [s.sessionId, s.accountId, s.clientId, s.scope, s.deviceName, s.userAgent, iso(s.now), iso(s.expiresAt)],
  );
}

export async function insertRefreshToken(db: Queryable, tokenHash: string, sessionId: string, now: Date): Promise<void> {
  await db.query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3::timestamptz)", [tokenHash, sessionId, iso(now)]);
}

/** The refresh token and its session, locked for the rotation. */
export async function lockRefreshToken(
  tx: Queryable,
  tokenHash: string,
): Promise<{ rotated_at: Date | string | null; session: SessionRow } | undefined> {
  const [row] = await tx.query<Record<string, unknown>>(
    `SELECT t.rotated_at, s.* FROM refresh_tokens t JOIN sessions s ON s.session_id = t.session_id
     WHERE t.token_hash = $1 FOR UPDATE OF t, s`,
    [tokenHash],
  );
  if (row === undefined) return undefined;
  const { rotated_at, ...session } = row;
  return { rotated_at: rotated_at as Date | string | null, session: session as unknown as SessionRow };
}

export async function markRotated(tx: Queryable, tokenHash: string, sessionId: string, now: Date): Promise<void> {
  await tx.query("UPDATE refresh_tokens SET rotated_at = $2::timestamptz WHERE token_hash = $1", [tokenHash, iso(now)]);
  await tx.query("UPDATE sessions SET last_used_at = $2::timestamptz WHERE session_id = $1", [sessionId, iso(now)]);
}

/** Revokes a whole family: the session, hence every refresh token of it. */
export async function revokeSession(db: Queryable, sessionId: string, now: Date): Promise<boolean> {
  const rows = await db.query("UPDATE sessions SET revoked_at = $2::timestamptz WHERE session_id = $1 AND revoked_at IS NULL RETURNING session_id", [
    sessionId,
    iso(now),
  ]);
  return rows.length === 1;
}

export async function findSession(db: Queryable, sessionId: string): Promise<SessionRow | undefined> {
  const [row] = await db.query<SessionRow & Record<string, unknown>>("SELECT * FROM sessions WHERE session_id = $1", [sessionId]);
  return row;
}

export async function findSessionByRefreshToken(db: Queryable, tokenHash: string): Promise<SessionRow | undefined> {
  const [row] = await db.query<SessionRow & Record<string, unknown>>(
    "SELECT s.* FROM refresh_tokens t JOIN sessions s ON s.session_id = t.session_id WHERE t.token_hash = $1",
    [tokenHash],
  );
  return row;
}

export async function liveSessions(db: Queryable, accountId: string, now: Date): Promise<SessionRow[]> {
  return db.query<SessionRow & Record<string, unknown>>(
    "SELECT * FROM sessions WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2::timestamptz ORDER BY created_at DESC",
    [accountId, iso(now)],
  );
}

export async function revokeOtherSessions(db: Queryable, accountId: string, keep: string, now: Date): Promise<number> {
  const rows = await db.query(
    "UPDATE sessions SET revoked_at = $3::timestamptz WHERE account_id = $1 AND session_id <> $2 AND revoked_at IS NULL RETURNING session_id",
    [accountId, keep, iso(now)],
  );
  return rows.length;
}

export interface CodeRow {
  client_id: string;
  account_id: string;
  redirect_uri: string;
  scope: string;
  nonce: string;
  code_challenge: string;
  expires_at: Date | string;
  used_at: Date | string | null;
  session_id: string | null;
}

export async function insertCode(
  db: Queryable,
  c: { codeHash: string; clientId: string; accountId: string; redirectUri: string; scope: string; nonce: string; codeChallenge: string; expiresAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO authorization_codes (code_hash, client_id, account_id, redirect_uri, scope, nonce, code_challenge, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz)`,
    [c.codeHash, c.clientId, c.accountId, c.redirectUri, c.scope, c.nonce, c.codeChallenge, iso(c.expiresAt)],
  );
}

export async function lockCode(tx: Queryable, codeHash: string): Promise<CodeRow | undefined> {
  const [row] = await tx.query<CodeRow & Record<string, unknown>>("SELECT * FROM authorization_codes WHERE code_hash = $1 FOR UPDATE", [codeHash]);
  return row;
}

export async function markCodeUsed(tx: Queryable, codeHash: string, now: Date): Promise<void> {
  await tx.query("UPDATE authorization_codes SET used_at = $2::timestamptz WHERE code_hash = $1", [codeHash, iso(now)]);
}

export async function revokeAccessToken(db: Queryable, jti: string, expiresAt: Date): Promise<void> {
  await db.query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2::timestamptz) ON CONFLICT DO NOTHING", [jti, iso(expiresAt)]);
}

export async function isAccessTokenRevoked(db: Queryable, jti: string): Promise<boolean> {
  return (await db.query("SELECT 1 FROM revoked_access_tokens WHERE jti = $1", [jti])).length === 1;
}

/** Whether the refresh token exists and has not been rotated yet. */
export async function isCurrentRefreshToken(db: Queryable, tokenHash: string): Promise<boolean> {
  return (await db.query("SELECT 1 FROM refresh_tokens WHERE token_hash = $1 AND rotated_at IS NULL", [tokenHash])).length === 1;
}

/** Remembers which session a code gave, so a second use of the code can revoke it. */
export async function linkCodeToSession(db: Queryable, codeHash: string, sessionId: string): Promise<void> {
  await db.query("UPDATE authorization_codes SET session_id = $2 WHERE code_hash = $1", [codeHash, sessionId]);
}
