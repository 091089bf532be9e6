// Brute-force protection: failed sign-ins counted per account and per client
// address, each key blocked with exponential backoff (domain.blockAfter).
// While a key is blocked the password is not even checked.
import type { Queryable } from "@flotilla/kit";
import { blockAfter, THROTTLE } from "./domain.ts";

export interface ThrottleState {
  failures: number;
  blockedUntil: Date | undefined;
}

/** The latest block among the keys, if any is still running at `now`. */
export async function blockedUntil(db: Queryable, keys: readonly string[], now: Date): Promise<Date | undefined> {
  const rows = await db.query<{ blocked_until: Date | string | null }>(
    "SELECT blocked_until FROM sign_in_failures WHERE key = ANY($1::text[]) AND blocked_until > $2::timestamptz ORDER BY blocked_until DESC LIMIT 1",
    [keys, now.toISOString()],
  );
  const until = rows[0]?.blocked_until;
  return until == null ? undefined : new Date(until);
}

/** Counts one failure for `key` (forgetting old ones) and returns its new state. */
export async function recordFailure(db: Queryable, key: string, now: Date): Promise<ThrottleState> {
  const forgetBefore = new Date(now.getTime() - THROTTLE.forgetAfterMs).toISOString();
  const [row] = await db.query<{ failures: number }>(
    `INSERT INTO sign_in_failures (key, failures, last_failure) VALUES ($1, 1, $2::timestamptz)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN sign_in_failures.last_failure < $3::timestamptz THEN 1 ELSE sign_in_failures.failures + 1 END,
       last_failure = EXCLUDED.last_failure
     RETURNING failures`,
    [key, now.toISOString(), forgetBefore],
  );
  const failures = row!.failures;
  const blockMs = blockAfter(failures);
  if (blockMs === 0) return { failures, blockedUntil: undefined };
  const until = new Date(now.getTime() + blockMs);
  await db.query("UPDATE sign_in_failures SET blocked_until = $2::timestamptz WHERE key = $1", [key, until.toISOString()]);
  return { failures, blockedUntil: until };
}

/** A successful sign-in clears the account's count (not the address's: one good password must not unlock a spraying IP). */
export async function clearFailures(db: Queryable, key: string): Promise<void> {
  await db.query("DELETE FROM sign_in_failures WHERE key = $1", [key]);
}
