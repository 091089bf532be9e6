// Identity's pure rules: email normalisation, opaque tokens, scopes, backoff.
import { createHash, randomBytes, randomUUID } from "node:crypto";

/**
 * The form an email is stored, compared and indexed in: trimmed, NFKC, lower
 * case. (RFC 5321 lets the local part be case-sensitive; no provider a
 * mobile user signs up with treats it so, and two accounts differing only by
 * case would be an account-takeover trap.)
 */
export function normaliseEmail(email: string): string {
  return email.normalize("NFKC").trim().toLowerCase();
}

export function newAccountId(): string {
  return `acc_${randomUUID().replaceAll("-", "")}`;
}

export function newSessionId(): string {
  return `ses_${randomUUID().replaceAll("-", "")}`;
}

/** An opaque bearer secret (refresh token, code, client secret): 256 random bits, base64url. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/**
 * Refresh tokens, codes and client secrets are 256-bit random values, so a
 * fast hash is enough to make a stolen table useless (there is nothing to
 * brute-force); passwords, which are guessable, use argon2id instead.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

/** RFC 6749 3.3: space-delimited, case-sensitive, deduplicated, in request order. */
export function parseScope(scope: string): string[] {
  return [...new Set(scope.split(" ").filter((s) => s !== ""))];
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * The scopes granted: the requested ones when the client may have them all
 * (RFC 6749 3.3 lets us narrow, but silently dropping one surprises an app:
 * refuse instead), else the client's default set when nothing was requested.
 */
export function grantScopes(requested: string, allowed: readonly string[]): { ok: true; scopes: string[] } | { ok: false; reason: string } {
  const wanted = parseScope(requested);
  if (wanted.length === 0) return { ok: true, scopes: [...allowed] };
  for (const s of wanted) {
    if (!SCOPE_TOKEN.test(s)) return { ok: false, reason: `malformed scope ${JSON.stringify(s.slice(0, 40))}` };
    if (!allowed.includes(s)) return { ok: false, reason: `scope "${s}" is not allowed for this client` };
  }
  return { ok: true, scopes: wanted };
}

export const THROTTLE = {
  /** Failures allowed before the first block. */
  freeAttempts: 5,
  /** The first block; each further failure doubles it. */
  baseBlockMs: 1_000,
  maxBlockMs: 15 * 60_000,
  /** A failure older than this no longer counts. */
  forgetAfterMs: 60 * 60_000,
} as const;

/**
 * Exponential backoff after repeated failed sign-ins: nothing for the first
 * `freeAttempts`, then 1 s, 2 s, 4 s … capped at 15 min. Returns how long the
 * key is blocked after its `failures`-th failure.
 */
export function blockAfter(failures: number): number {
  if (failures < THROTTLE.freeAttempts) return 0;
  const exponent = Math.min(failures - THROTTLE.freeAttempts, 20);
  return Math.min(THROTTLE.baseBlockMs * 2 ** exponent, THROTTLE.maxBlockMs);
}

/** Exact match, as RFC 9700 2.1 requires: no prefix, no wildcard, no normalisation. */
export function redirectUriAllowed(uri: string, registered: readonly string[]): boolean {
  return registered.includes(uri);
}

/** Appends query parameters to a redirect URI that may already have some (RFC 6749 3.1.2). */
export function withQuery(uri: string, params: Record<string, string>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== "") url.searchParams.set(k, v);
  return url.toString();
}
