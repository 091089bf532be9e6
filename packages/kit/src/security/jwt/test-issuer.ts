// Mints access tokens the way identity does (ES256, typ at+jwt), for tests of
// verifiers. Not part of the public surface.
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

export interface TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** The public key set, as identity's JWKS method returns it. */
  jwks(): Promise<{ keys: JWK[] }>;
  /** Counts the key-set fetches. */
  readonly fetches: number;
  /** Signs with the current key; `claims` override the defaults, `header` the protected header. */
  sign(claims?: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** A second key, not (yet) in the published set unless `publish` is true. */
  addKey(kid: string, publish: boolean): Promise<void>;
  /** Removes a key from the published set (revocation), keeping it to sign with. */
  unpublish(kid: string): void;
  useKey(kid: string): void;
  /** The public JWK of a key. */
  publicJwk(kid: string): JWK;
}

export async function createTestIssuer(options: { issuer?: string; audience?: string; now?: () => number } = {}): Promise<TestIssuer> {
  const issuer = options.issuer ?? "http://127.0.0.1:8080";
  const audience = options.audience ?? "flotilla";
  const now = options.now ?? Date.now;
  const keys = new Map<string, { priv: CryptoKey; pub: JWK; published: boolean }>();
  let current = "k1";
  let fetches = 0;
  const add = async (kid: string, published: boolean) => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    keys.set(kid, { priv: pair.privateKey, pub: { ...(await exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" }, published });
  };
  await add("k1", true);
  return {
    issuer,
    audience,
    get fetches() {
      return fetches;
    },
    async jwks() {
      fetches++;
      return { keys: [...keys.values()].filter((k) => k.published).map((k) => k.pub) };
    },
    async sign(claims = {}, header = {}) {
      const key = keys.get(current)!;
      const iat = Math.floor(now() / 1000);
      const payload: JWTPayload = {
        iss: issuer,
        aud: audience,
        sub: "acc_1",
        client_id: "mobile",
        scope: "openid catalog",
        roles: ["member"],
        permissions: ["catalog:read"],
        jti: crypto.randomUUID(),
        iat,
        nbf: iat,
        exp: iat + 600,
        ...claims,
      };
      return new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: current, ...header }).sign(key.priv);
    },
    async addKey(kid, publish) {
      await add(kid, publish);
    },
    unpublish(kid) {
      keys.get(kid)!.published = false;
    },
    useKey(kid) {
      current = kid;
    },
    publicJwk(kid) {
      return keys.get(kid)!.pub;
    },
  };
}
