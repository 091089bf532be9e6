import { kitErrors } from "../../errors/index.ts";
import { methodPath } from "../../transport/method-path.ts";
import type { CallContext, ServerInterceptor } from "../../transport/types.ts";
import type { TokenVerifier, VerifiedToken } from "../jwt/index.ts";
import { accessOf } from "./access.ts";

const users = new WeakMap<CallContext, VerifiedToken>();

/** The end user endUserPolicy verified for this call, if the method needed one. */
export function endUserOf(ctx: CallContext): VerifiedToken | undefined {
  return users.get(ctx);
}

/** `Bearer <token>` (RFC 6750 section 2.1), or undefined. */
export function bearerOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
  return match?.[1];
}

/**
 * Zero trust: the service re-verifies the end user's access token forwarded in
 * the `authorization` metadata instead of trusting the gateway (or whoever
 * called), and checks every permission the method declares. Public methods
 * need nothing; internal methods without permissions are service-to-service
 * only (callerPolicy guards them) and need no end user either.
 */
export function endUserPolicy(options: { verifier: TokenVerifier }): ServerInterceptor {
  return (next) => async (input, ctx) => {
    const access = accessOf(ctx.method);
    if (access.public || (access.internal && access.permissions.length === 0)) return next(input, ctx);
    const token = bearerOf(ctx.metadata.authorization);
    if (token === undefined) throw kitErrors.create("KIT_ERR_TOKEN_REQUIRED", `${methodPath(ctx.method)} needs an end user's access token (authorization: Bearer …)`);
    const user = await options.verifier.verify(token);
    const missing = access.permissions.filter((p) => !user.permissions.includes(p));
    if (missing.length > 0) throw kitErrors.create("KIT_ERR_PERMISSION_DENIED", `${methodPath(ctx.method)} requires the permission ${missing.join(", ")}`);
    users.set(ctx, user);
    return next(input, ctx);
  };
}
