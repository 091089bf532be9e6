// The issuer's public keys, fetched lazily, kept for `maxAgeMs`, and refetched
// when a token names a `kid` we do not hold — at most once per cooldown, so a
// flood of tokens with made-up kids cannot turn into a flood of JWKS fetches.
import { type CryptoKey, importJWK, type JWK } from "jose";
import { kitErrors } from "../../errors/index.ts";

/** Where the keys come from: a function (identity's JWKS method through the invoker) or a JWKS URL. */
export type JwksSource = (() => Promise<{ keys: JWK[] }>) | URL | string;

export interface KeySetOptions {
  readonly source: JwksSource;
  /** Only keys usable with these algorithms are imported (the pinned set). */
  readonly algorithms: readonly string[];
  /** Least time between two fetches caused by an unknown kid (default 10 s). */
  readonly refreshCooldownMs?: number;
  /** A key set older than this is refetched before use, so removed (revoked) keys stop verifying (default 5 min). */
  readonly maxAgeMs?: number;
  /** Timeout of a JWKS URL fetch (default 5 s). */
  readonly fetchTimeoutMs?: number;
  readonly now?: () => number;
}

export interface KeySet {
  /** The key for `kid`, refetching the set once if it is unknown; throws KIT_ERR_TOKEN_UNKNOWN_KEY. */
  key(kid: string): Promise<CryptoKey>;
  /** Whether `kid` is still in the set, refreshing a stale set first. */
  holds(kid: string): Promise<boolean>;
}

// The curve each pinned algorithm needs: an EC key for another curve (or an
// RSA or symmetric key) is never imported, so there is nothing an `HS256`
// token signed with the "public key" could be checked against.
const KEY_TYPES: Record<string, { kty: string; crv?: string }> = {
  ES256: { kty: "EC", crv: "P-256" },
  ES384: { kty: "EC", crv: "P-384" },
  ES512: { kty: "EC", crv: "P-521" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
};

export function createKeySet(options: KeySetOptions): KeySet {
  const now = options.now ?? Date.now;
  const cooldown = options.refreshCooldownMs ?? 10_000;
  const maxAge = options.maxAgeMs ?? 5 * 60_000;
  const fetchKeys = typeof options.source === "function" ? options.source : remote(new URL(options.source), options.fetchTimeoutMs ?? 5_000);
  let keys: Map<string, CryptoKey> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  const load = async (): Promise<void> => {
    // While the issuer is down and we hold no keys, fail fast for a second
    // instead of sending it one fetch per incoming request.
    if (keys === undefined && now() - failedAt < 1_000) throw kitErrors.create("KIT_ERR_JWKS_UNAVAILABLE", "the issuer's key set could not be fetched");
    fetchedAt = now();
    let set: { keys: JWK[] };
    try {
      set = await fetchKeys();
    } catch (error) {
      // Keep the keys we have: an IdP blip must not log every user out.
      if (keys !== undefined) return;
      failedAt = now();
      throw kitErrors.create("KIT_ERR_JWKS_UNAVAILABLE", "the issuer's key set could not be fetched", { cause: error });
    }
    keys = await importSet(set, options.algorithms);
  };
  const refresh = (): Promise<void> => {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
  const fresh = async (): Promise<Map<string, CryptoKey>> => {
    if (keys === undefined || now() - fetchedAt >= maxAge) await refresh();
    return keys!;
  };

  return {
    async key(kid) {
      let found = (await fresh()).get(kid);
      if (found === undefined && now() - fetchedAt >= cooldown) {
        await refresh();
        found = keys!.get(kid);
      }
      if (found === undefined) throw kitErrors.create("KIT_ERR_TOKEN_UNKNOWN_KEY", `the token's signing key ${JSON.stringify(kid.slice(0, 64))} is not in the issuer's key set`);
      return found;
    },
    async holds(kid) {
      return (await fresh()).has(kid);
    },
  };
}

async function importSet(set: { keys: JWK[] }, algorithms: readonly string[]): Promise<Map<string, CryptoKey>> {
  const out = new Map<string, CryptoKey>();
  if (!Array.isArray(set?.keys)) throw kitErrors.create("KIT_ERR_JWKS_UNAVAILABLE", "the issuer's key set has no `keys` array");
  for (const jwk of set.keys) {
    if (typeof jwk?.kid !== "string" || (jwk.use !== undefined && jwk.use !== "sig")) continue;
    // A private member in a published set is a mistake of the issuer; never use it.
    if ("d" in jwk) continue;
    const alg = jwk.alg ?? algorithms.find((a) => KEY_TYPES[a]?.kty === jwk.kty && KEY_TYPES[a]?.crv === jwk.crv);
    if (alg === undefined || !algorithms.includes(alg)) continue;
    const type = KEY_TYPES[alg];
    if (type === undefined || type.kty !== jwk.kty || type.crv !== jwk.crv) continue;
    try {
      out.set(jwk.kid, (await importJWK(jwk, alg)) as CryptoKey);
    } catch {
      // A malformed key in the set: skip it, the others still verify.
    }
  }
  return out;
}

function remote(url: URL, timeoutMs: number): () => Promise<{ keys: JWK[] }> {
  if (url.protocol !== "https:" && url.protocol !== "http:") throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `JWKS URL must be http(s), got ${url.protocol}`);
  return async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" }, redirect: "error" });
    if (!response.ok) throw new Error(`GET ${url.href} answered ${response.status}`);
    return (await response.json()) as { keys: JWK[] };
  };
}
