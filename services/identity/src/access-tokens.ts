// Access tokens (RFC 9068 JWT profile, the claims of shared-auth-contract)
// and ID tokens, signed ES256 by the key ring; and the check identity runs on
// the bearer tokens it receives (zero trust: the gateway verified them too).
import { randomUUID } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { identityErrors } from "./errors.ts";
import { type KeyRing, SIGNING_ALG } from "./signing-keys.ts";

export const AUDIENCE = "flotilla";
export const CLOCK_TOLERANCE_SEC = 30;

export interface AccessClaims {
  sub: string;
  client_id: string;
  scope: string;
  roles: string[];
  permissions: string[];
  sid?: string;
  jti: string;
  iat: number;
  exp: number;
}

export interface TokenIssuerOptions {
  keys: KeyRing;
  issuer: string;
  ttlSec: number;
  now: () => Date;
}

export function tokenIssuer(o: TokenIssuerOptions) {
  const seconds = () => Math.floor(o.now().getTime() / 1000);
  return {
    async accessToken(c: { sub: string; clientId: string; scope: string[]; roles: string[]; permissions: string[]; sid?: string }): Promise<string> {
      const key = await o.keys.active();
      const iat = seconds();
      return new SignJWT({
        client_id: c.clientId,
        scope: c.scope.join(" "),
        roles: c.roles,
        permissions: c.permissions,
        ...(c.sid === undefined ? {} : { sid: c.sid }),
      })
        .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: "at+jwt" })
        .setIssuer(o.issuer)
        .setAudience(AUDIENCE)
        .setSubject(c.sub)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + o.ttlSec)
        .setJti(randomUUID())
        .sign(key.privateKey);
    },

    /** OpenID Connect Core 2: audience is the client. */
    async idToken(c: { sub: string; clientId: string; nonce: string; authTime: number; email?: string; name?: string }): Promise<string> {
      const key = await o.keys.active();
      const iat = seconds();
      return new SignJWT({
        auth_time: c.authTime,
        ...(c.nonce === "" ? {} : { nonce: c.nonce }),
        ...(c.email === undefined ? {} : { email: c.email }),
        ...(c.name === undefined ? {} : { name: c.name }),
      })
        .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: "JWT" })
        .setIssuer(o.issuer)
        .setAudience(c.clientId)
        .setSubject(c.sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + o.ttlSec)
        .sign(key.privateKey);
    },

    /**
     * Verifies an access token this issuer signed: ES256 only (no `none`, no
     * HMAC with the public key as secret), `typ` at+jwt, our issuer and
     * audience, a published `kid`. Any failure is IDENTITY_ERR_INVALID_TOKEN.
     */
    async verify(token: string): Promise<AccessClaims> {
      try {
        const { payload } = await jwtVerify(
          token,
          async (header) => {
            if (header.alg !== SIGNING_ALG || typeof header.kid !== "string") throw new joseErrors.JOSENotSupported("unexpected alg or kid");
            const key = await o.keys.publicKey(header.kid);
            if (key === undefined) throw new joseErrors.JWKSNoMatchingKey();
            return key;
          },
          {
            algorithms: [SIGNING_ALG],
            issuer: o.issuer,
            audience: AUDIENCE,
            typ: "at+jwt",
            clockTolerance: CLOCK_TOLERANCE_SEC,
            currentDate: o.now(),
            requiredClaims: ["sub", "exp", "iat", "jti"],
          },
        );
        const p = payload as Partial<AccessClaims>;
        if (typeof p.client_id !== "string" || typeof p.scope !== "string") throw new Error("missing client_id or scope");
        return {
          sub: p.sub!,
          client_id: p.client_id,
          scope: p.scope,
          roles: Array.isArray(p.roles) ? p.roles.filter((r) => typeof r === "string") : [],
          permissions: Array.isArray(p.permissions) ? p.permissions.filter((r) => typeof r === "string") : [],
          ...(typeof p.sid === "string" ? { sid: p.sid } : {}),
          jti: p.jti!,
          iat: p.iat!,
          exp: p.exp!,
        };
      } catch (error) {
        throw identityErrors.create("IDENTITY_ERR_INVALID_TOKEN", "the access token is not valid", { cause: error });
      }
    },
  };
}

export type TokenIssuer = ReturnType<typeof tokenIssuer>;
