// Who is calling: the subject of the access token the gateway forwards in the
// `authorization` metadata, verified again here with the chassis's verifier
// (zero trust: a call that skipped the gateway proves nothing).
import type { Metadata } from "@flotilla/kit";
import type { CallContext } from "@flotilla/kit";
import { createTokenVerifier, endUserOf, type JwksSource } from "@flotilla/kit/internal";
import { messagingErrors } from "./errors.ts";

export interface Caller {
  /** The token's `sub`: the account id. */
  readonly subject: string;
}

/**
 * Verifies an access token; rejects with an `unauthenticated` error (KIT_ERR_TOKEN_*).
 * `use`: a contract call (default) or a WebSocket handshake (`socket`).
 */
export type Authenticate = (token: string, use?: "call" | "socket") => Promise<Caller>;

export function tokenAuthenticator(rules: { issuer: string; audience: string; jwks: JwksSource }): Authenticate {
  const verifier = createTokenVerifier({ issuer: rules.issuer, audience: rules.audience, jwks: rules.jwks, algorithms: ["ES256"], clockToleranceSec: 30 });
  // A socket's token is verified once per connection, and a client that
  // reconnects after its replica failed lands on another one: verified-token
  // cache entries for sockets were never hit, and cost ≈ 0.3 KB per open
  // connection (bench/realtime).
  return async (token, use = "call") => ({ subject: (await verifier.verify(token, { remember: use !== "socket" })).subject });
}

/** The bearer token of an `authorization` value, if any. */
export function bearerOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(authorization ?? "");
  return match?.[1];
}

/** The verified caller of a contract call: the one the runtime's zero-trust check verified, else verified here. */
export async function callerOf(ctx: CallContext, authenticate: Authenticate): Promise<Caller> {
  const verified = endUserOf(ctx);
  if (verified) return { subject: verified.subject };
  return callerFromMetadata(ctx.metadata, authenticate);
}

async function callerFromMetadata(metadata: Metadata, authenticate: Authenticate): Promise<Caller> {
  const token = bearerOf(metadata.authorization);
  if (!token) throw messagingErrors.create("MESSAGING_ERR_UNAUTHENTICATED", "the call carries no bearer access token");
  return authenticate(token);
}
