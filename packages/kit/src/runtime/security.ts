// The security interceptors every hosted service runs, in both runtimes:
// the contract's caller policy, then zero trust (the end user's token
// re-verified, the method's permissions checked).
import { createTokenVerifier, type JwksSource } from "../security/jwt/index.ts";
import { callerPolicy } from "../security/policy/caller-policy.ts";
import { endUserPolicy } from "../security/policy/end-user-policy.ts";
import { identityJwks } from "../security/policy/identity-jwks.ts";
import type { ServerInterceptor } from "../transport/types.ts";
import type { Invoke } from "./invoker.ts";

export interface SecurityOptions {
  zeroTrust: "on" | "off";
  /** Expected `iss` of access tokens. */
  publicUrl: string;
  /** An external issuer's key set; empty: identity's GetJwks through `invoke`. */
  jwksUrl: string;
  /** The invoker the key set is fetched through (may be bound later, e.g. after the services are hosted). */
  invoke: Invoke;
}

export function securityInterceptors(options: SecurityOptions): ServerInterceptor[] {
  if (options.zeroTrust === "off") return [callerPolicy()];
  const jwks: JwksSource = options.jwksUrl ? options.jwksUrl : identityJwks(options.invoke);
  const verifier = createTokenVerifier({ issuer: options.publicUrl, audience: "flotilla", jwks, algorithms: ["ES256"], clockToleranceSec: 30 });
  return [callerPolicy(), endUserPolicy({ verifier })];
}
