// Who is calling: the bearer token the gateway forwarded in the call metadata,
// verified again here (zero trust), plus the permissions the contract asks of
// the method. A token whose session was revoked stops working at once here,
// even though the gateway accepts it until it expires.
import { getOption } from "@bufbuild/protobuf";
import { optionsV1 } from "@flotilla/contracts";
import type { CallContext } from "@flotilla/kit";
import type { AccessClaims } from "./access-tokens.ts";
import type { IdentityDeps } from "./deps.ts";
import { identityErrors } from "./errors.ts";
import { findSession, isAccessTokenRevoked } from "./sessions.ts";

/** The `Bearer` token of the call, or undefined. */
export function bearerOf(ctx: CallContext): string | undefined {
  const header = ctx.metadata.authorization;
  const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  return match?.[1];
}

export async function verifyAccessToken(d: IdentityDeps, token: string): Promise<AccessClaims> {
  const claims = await d.tokens.verify(token);
  if (await isAccessTokenRevoked(d.db, claims.jti)) throw identityErrors.create("IDENTITY_ERR_INVALID_TOKEN", "the access token was revoked");
  if (claims.sid !== undefined) {
    const session = await findSession(d.db, claims.sid);
    if (session === undefined || session.revoked_at !== null) throw identityErrors.create("IDENTITY_ERR_INVALID_TOKEN", "the session of this token was revoked");
  }
  return claims;
}

/** The verified caller; throws unless the token carries every permission the method's contract requires. */
export async function callerOf(d: IdentityDeps, ctx: CallContext): Promise<AccessClaims> {
  const token = bearerOf(ctx);
  if (token === undefined) throw identityErrors.create("IDENTITY_ERR_UNAUTHENTICATED", "this call needs an access token (Authorization: Bearer)");
  const claims = await verifyAccessToken(d, token);
  const required = getOption(ctx.method, optionsV1.access).permissions;
  const missing = required.filter((p) => !claims.permissions.includes(p));
  if (missing.length > 0) throw identityErrors.create("IDENTITY_ERR_FORBIDDEN", `this call needs the permission ${missing.join(", ")}`);
  return claims;
}

/** The caller as an end user (not a client_credentials token). */
export async function userOf(d: IdentityDeps, ctx: CallContext): Promise<AccessClaims> {
  const claims = await callerOf(d, ctx);
  if (claims.sub === claims.client_id) throw identityErrors.create("IDENTITY_ERR_FORBIDDEN", "this call is for signed-in users, not client tokens");
  return claims;
}

/** The client address the gateway saw (`x-client-ip`), for throttling. */
export function clientIpOf(ctx: CallContext): string {
  const ip = ctx.metadata["x-client-ip"];
  return ip !== undefined && /^[0-9a-fA-F:.]{2,45}$/.test(ip) ? ip : "unknown";
}
