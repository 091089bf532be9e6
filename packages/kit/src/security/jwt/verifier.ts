// Access-token verification shared by the gateway and the services (zero
// trust: a service may re-verify what the gateway forwards). Conventions:
// ES256 only, `typ: at+jwt` (RFC 9068), `iss`/`aud` fixed per deployment,
// 30 s of clock skew, keys from the issuer's JWKS.
import { createHash } from "node:crypto";
import { type JWTHeaderParameters, type JWTPayload, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import { FlotillaError, kitErrors } from "../../errors/index.ts";
import { createKeySet, type JwksSource } from "./key-set.ts";

/** What a verified access token says about its caller. */
export interface VerifiedToken {
  /** `sub`: the account id, or the client id for client_credentials. */
  readonly subject: string;
  readonly clientId: string | undefined;
  /** `scope`, split on spaces. */
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  /** What authorization checks: `<service>:<action>` strings. */
  readonly permissions: readonly string[];
  /** `sid`: the refresh-token family, when there is one. */
  readonly sessionId: string | undefined;
  readonly tokenId: string | undefined;
  /** `exp`, in seconds since the epoch. */
  readonly expiresAt: number;
  /** The signing key's id. */
  readonly keyId: string;
  readonly claims: Readonly<JWTPayload>;
}

/** Asymmetric algorithms only: a symmetric one would let anyone holding the public JWKS mint tokens. */
export type TokenAlgorithm = "ES256" | "ES384" | "ES512" | "EdDSA";

export interface TokenVerifierOptions {
  /** Expected `iss`: the public base URL, e.g. `https://api.example.com`. */
  readonly issuer: string;
  /** Expected `aud` (`flotilla`). */
  readonly audience: string;
  readonly jwks: JwksSource;
  /** Default and convention: `["ES256"]`. */
  readonly algorithms?: readonly TokenAlgorithm[];
  /** Default 30. */
  readonly clockToleranceSec?: number;
  /** Verified tokens kept (keyed by a hash of the token) until their `exp`; `false` turns it off. Default `{ max: 10_000 }`. */
  readonly cache?: { readonly max?: number } | false;
  /** Least time between two JWKS refetches caused by an unknown `kid` (default 10 s). */
  readonly refreshCooldownMs?: number;
  /** Age after which the key set is refetched before use (default 5 min): how long a removed key keeps working at most. */
  readonly keysMaxAgeMs?: number;
  /** For tests: the clock, in ms. */
  readonly now?: () => number;
}

export interface TokenVerifier {
  /**
   * Resolves with the token's claims, or rejects with a KIT_ERR_TOKEN_* error
   * (all `unauthenticated`) or KIT_ERR_JWKS_UNAVAILABLE (`unavailable`).
   */
  verify(token: string, options?: VerifyOptions): Promise<VerifiedToken>;
}

export interface VerifyOptions {
  /**
   * `false`: a token verified now is not added to the verified-token cache
   * (it may still be found there). For tokens seen once per connection — a
   * WebSocket handshake — whose entries would only take memory.
   */
  readonly remember?: boolean;
}

const MAX_TOKEN_LENGTH = 8 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 *   const verifier = createTokenVerifier({
 *     issuer: "https://api.example.com", audience: "flotilla",
 *     jwks: () => identity.getJwks(),         // or "https://idp.example.com/.well-known/jwks.json"
 *   });
 *   const caller = await verifier.verify(bearer);   // caller.permissions.includes("catalog:write")
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const algorithms = [...(options.algorithms ?? ["ES256"])];
  for (const alg of algorithms) {
    if (!["ES256", "ES384", "ES512", "EdDSA"].includes(alg)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `token algorithm ${alg} is not allowed (asymmetric only)`);
  }
  const now = options.now ?? Date.now;
  const tolerance = options.clockToleranceSec ?? 30;
  const keys = createKeySet({
    source: options.jwks,
    algorithms,
    ...(options.refreshCooldownMs !== undefined ? { refreshCooldownMs: options.refreshCooldownMs } : {}),
    ...(options.keysMaxAgeMs !== undefined ? { maxAgeMs: options.keysMaxAgeMs } : {}),
    now,
  });
  const cache = options.cache === false ? undefined : new LRUCache<string, VerifiedToken>({ max: options.cache?.max ?? 10_000, perf: { now }, ttlResolution: 0 });

  const verifySignature = async (token: string): Promise<VerifiedToken> => {
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(
        token,
        async (protectedHeader) => {
          if (typeof protectedHeader.kid !== "string" || protectedHeader.kid === "") throw kitErrors.create("KIT_ERR_TOKEN_INVALID", "the token has no `kid` header");
          return keys.key(protectedHeader.kid);
        },
        {
          issuer: options.issuer,
          audience: options.audience,
          algorithms,
          typ: "at+jwt",
          clockTolerance: tolerance,
          requiredClaims: ["sub", "exp", "iat"],
          currentDate: new Date(now()),
        },
      ));
    } catch (error) {
      throw tokenError(error);
    }
    // jose accepts an `iat` in the future; a token minted "later" is a clock or forgery problem.
    if (typeof payload.iat === "number" && payload.iat > now() / 1000 + tolerance) {
      throw kitErrors.create("KIT_ERR_TOKEN_NOT_YET_VALID", "the token is not valid yet (`iat` is in the future)");
    }
    return claimsOf(payload, header.kid!);
  };

  return {
    async verify(token, verifyOptions) {
      if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw kitErrors.create("KIT_ERR_TOKEN_INVALID", "the bearer token is not a compact JWS");
      }
      if (cache === undefined) return verifySignature(token);
      // A hash as the key: the cache never holds a usable token.
      const key = createHash("sha256").update(token).digest("base64url");
      const hit = cache.get(key);
      // A cached token still needs its key in the set: a key removed from the
      // JWKS (revoked) stops its tokens at the next key-set refresh.
      if (hit !== undefined && (await keys.holds(hit.keyId))) return hit;
      if (hit !== undefined) {
        cache.delete(key);
        throw kitErrors.create("KIT_ERR_TOKEN_UNKNOWN_KEY", "the token's signing key was removed from the issuer's key set");
      }
      const verified = await verifySignature(token);
      const ttl = verified.expiresAt * 1000 - now();
      if (ttl > 0 && verifyOptions?.remember !== false) cache.set(key, verified, { ttl });
      return verified;
    },
  };
}

function strings(payload: JWTPayload, claim: string): string[] {
  const value = payload[claim];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw kitErrors.create("KIT_ERR_TOKEN_CLAIM_INVALID", `the token's \`${claim}\` claim is not an array of strings`);
  }
  return value;
}

function optionalString(payload: JWTPayload, claim: string): string | undefined {
  const value = payload[claim];
  if (value === undefined || typeof value === "string") return value;
  throw kitErrors.create("KIT_ERR_TOKEN_CLAIM_INVALID", `the token's \`${claim}\` claim is not a string`);
}

function claimsOf(payload: JWTPayload, keyId: string): VerifiedToken {
  const scope = optionalString(payload, "scope");
  return Object.freeze({
    subject: payload.sub!,
    clientId: optionalString(payload, "client_id"),
    scopes: scope === undefined ? [] : scope.split(" ").filter((s) => s !== ""),
    roles: Object.freeze(strings(payload, "roles")),
    permissions: Object.freeze(strings(payload, "permissions")),
    sessionId: optionalString(payload, "sid"),
    tokenId: optionalString(payload, "jti"),
    expiresAt: payload.exp!,
    keyId,
    claims: Object.freeze({ ...payload }),
  });
}

/** jose's errors (by their stable `code`) to ours; the message never echoes the token. */
function tokenError(error: unknown): FlotillaError {
  if (error instanceof FlotillaError) return error;
  const code = (error as { code?: unknown })?.code;
  const claim = (error as { claim?: unknown })?.claim;
  const reason = (error as { reason?: unknown })?.reason;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return kitErrors.create("KIT_ERR_TOKEN_EXPIRED", "the token has expired", { cause: error });
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if ((claim === "nbf" || claim === "iat") && reason === "check_failed") {
        return kitErrors.create("KIT_ERR_TOKEN_NOT_YET_VALID", `the token is not valid yet (\`${claim}\` is in the future)`, { cause: error });
      }
      if (claim === "typ") return kitErrors.create("KIT_ERR_TOKEN_INVALID", "the token is not an access token (typ at+jwt)", { cause: error });
      return kitErrors.create("KIT_ERR_TOKEN_CLAIM_INVALID", `the token's \`${String(claim)}\` claim is ${reason === "missing" ? "missing" : "not accepted"}`, { cause: error });
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return kitErrors.create("KIT_ERR_TOKEN_INVALID", "the token is signed with an algorithm that is not accepted", { cause: error });
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return kitErrors.create("KIT_ERR_TOKEN_INVALID", "the token's signature does not verify", { cause: error });
    default:
      return kitErrors.create("KIT_ERR_TOKEN_INVALID", "the bearer token is malformed", { cause: error });
  }
}
