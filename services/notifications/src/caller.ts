// Who is calling. When the runtime runs zero trust, its end-user interceptor
// has re-verified the forwarded access token (kit's createTokenVerifier) and
// we take the verified subject. Otherwise the gateway verified the token
// (signature, issuer, audience, expiry) before routing the call, and we read
// the `sub` of the forwarded `authorization: Bearer <token>` without
// re-verifying it — a call that bypasses the gateway must then be prevented by
// the network (or zero trust switched on).
import type { CallContext } from "@flotilla/kit";
import { endUserOf } from "@flotilla/kit/internal";
import { notificationsErrors } from "./errors.ts";

const BEARER = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

/** The subject (account id) of the caller's access token. */
export function callerId(ctx: CallContext): string {
  const verified = endUserOf(ctx);
  if (verified) return verified.subject;
  const match = BEARER.exec(ctx.metadata.authorization ?? "");
  if (!match) throw notificationsErrors.create("NOTIFICATIONS_ERR_UNAUTHENTICATED", "a bearer token is required");
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(match[2]!, "base64url").toString("utf8"));
  } catch (cause) {
    throw notificationsErrors.create("NOTIFICATIONS_ERR_UNAUTHENTICATED", "the bearer token is not a JWT", { cause });
  }
  const sub = (claims as { sub?: unknown } | null)?.sub;
  if (typeof sub !== "string" || sub === "" || sub.length > 128) {
    throw notificationsErrors.create("NOTIFICATIONS_ERR_UNAUTHENTICATED", "the bearer token has no subject");
  }
  return sub;
}
