import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { kitErrors } from "../errors/index.ts";
import type { Instance } from "../registry/types.ts";
import { withDeadline } from "./deadline.ts";
import { methodPath } from "./method-path.ts";
import type { Router } from "./router.ts";
import { unreachable } from "./transport-failure.ts";
import type { SendOptions, Transport } from "./types.ts";

/**
 * The in-process "network": which router answers at which `inproc://<id>`
 * address. One per embedded runtime (no globals), shared by its transports.
 *
 *   const network = new InprocNetwork();
 *   network.bind("inproc://catalog-1", router);
 *   const transport = new InprocTransport(network);
 */
export class InprocNetwork {
  readonly #routers = new Map<string, Router>();

  bind(address: string, router: Router): void {
    if (!address.startsWith("inproc://")) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `inproc address must start with inproc://, got "${address}"`);
    if (this.#routers.has(address)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `${address} is already bound`);
    this.#routers.set(address, router);
  }

  /** Calls to `address` fail as unavailable from now on. */
  unbind(address: string): void {
    this.#routers.delete(address);
  }

  resolve(address: string): Router | undefined {
    return this.#routers.get(address);
  }
}

/**
 * Calls a router in the same process: the decoded message goes to the
 * handler as it is (no serialisation), so callers must not mutate it after
 * sending. Deadlines and cancellation behave as over the network.
 */
export class InprocTransport implements Transport {
  readonly schemes = ["inproc:"] as const;
  readonly #network: InprocNetwork;

  constructor(network: InprocNetwork) {
    this.#network = network;
  }

  unary<I extends DescMessage, O extends DescMessage>(target: Instance, method: DescMethodUnary<I, O>, input: MessageShape<I>, options: SendOptions): Promise<MessageShape<O>> {
    const router = this.#network.resolve(target.address);
    if (router === undefined) return Promise.reject(unreachable(`nothing listens at ${target.address}`, { maybeDelivered: false }));
    const route = router.lookup(methodPath(method));
    if (route === undefined) return Promise.reject(kitErrors.create("KIT_ERR_UNIMPLEMENTED", `${target.address} does not serve ${methodPath(method)}`));
    const metadata = options.metadata;
    const deadline = options.deadline;
    const caller = options.caller;
    return withDeadline(deadline, options.signal, (signal) =>
      route.invoke(input, { service: route.service, method: route.method, deadline, metadata, signal, caller }),
    ) as Promise<MessageShape<O>>;
  }

  async close(): Promise<void> {}
}
