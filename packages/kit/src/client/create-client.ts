import type { DescMessage, DescMethodUnary, DescService, MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions, Client, ClientDeps } from "./types.ts";
import { Upstream } from "./upstream.ts";

/**
 * A typed client for a contract: one async function per unary method, with
 * discovery, power-of-two-choices balancing, deadlines, retries where the
 * contract says a method is idempotent, and a circuit breaker and bulkhead for
 * the upstream. Create one per upstream at start-up and share it.
 *
 *   const catalog = createClient(CatalogService, { instances: await registry.watch("catalog"), transports });
 *   const { event } = await catalog.getEvent({ eventId }, { parent: ctx });
 */
export function createClient<S extends DescService>(service: S, deps: ClientDeps | Upstream): Client<S> {
  const upstream = deps instanceof Upstream ? deps : new Upstream(service, deps);
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const unary = method as DescMethodUnary;
    client[method.localName] = (input: MessageInitShape<DescMessage>, options?: CallOptions) => upstream.call(unary, input, options);
  }
  return Object.freeze(client) as Client<S>;
}
