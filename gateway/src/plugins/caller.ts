// Who is calling, as the traffic plugins (rate limits, canary, idempotency,
// per-user cache) see it: the user and app the auth plugin verified
// (`request.auth`), and the peer address. Without an auth plugin every caller
// is known by IP only.
import type { FastifyRequest } from "fastify";

export interface Caller {
  /** The token's `sub` (an account, or a client for client_credentials). */
  readonly user: string | undefined;
  /** The app whose verified API key the request carried. */
  readonly app: string | undefined;
  /** The client address (`x-client-ip` as the auth plugin resolved it from trusted proxies, else the peer). */
  readonly ip: string;
}

export function callerOf(request: FastifyRequest): Caller {
  const auth = request.auth;
  return {
    user: auth?.sub,
    app: auth?.app?.id,
    ip: request.callMetadata["x-client-ip"] ?? request.ip,
  };
}

/** A stable text for the caller, for sticky routing and per-caller keys: the user, else the app, else the IP. */
export function callerKey(caller: Caller): string {
  if (caller.user !== undefined) return `u:${caller.user}`;
  if (caller.app !== undefined) return `a:${caller.app}`;
  return `ip:${caller.ip}`;
}
