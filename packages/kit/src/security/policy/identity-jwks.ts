import { create, type DescMessage, type DescMethodUnary, type DescService, type MessageShape } from "@bufbuild/protobuf";
import { identityV1 } from "@flotilla/contracts";
import type { JWK } from "jose";

type Invoke = (service: DescService, method: DescMethodUnary, input: MessageShape<DescMessage>, options: { metadata: Record<string, string> }) => Promise<MessageShape<DescMessage>>;

/**
 * The JWKS source of services' verifiers: identity's GetJwks method through the
 * chassis invoker, so it works embedded and distributed alike.
 *
 *   createTokenVerifier({ issuer, audience: "flotilla", jwks: identityJwks(invoker.invoke) })
 */
export function identityJwks(invoke: Invoke): () => Promise<{ keys: JWK[] }> {
  const { IdentityService, GetJwksRequestSchema } = identityV1;
  const method = IdentityService.method.getJwks as DescMethodUnary;
  return async () => {
    const out = (await invoke(IdentityService, method, create(GetJwksRequestSchema), { metadata: {} })) as MessageShape<typeof identityV1.GetJwksResponseSchema>;
    return {
      keys: out.keys.map((k) => {
        const jwk: JWK = {};
        for (const name of ["kty", "crv", "x", "y", "kid", "use", "alg"] as const) if (k[name]) jwk[name] = k[name];
        return jwk;
      }),
    };
  };
}
