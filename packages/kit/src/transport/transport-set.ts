import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { kitErrors } from "../errors/index.ts";
import type { Instance } from "../registry/types.ts";
import { HttpTransport, type HttpTransportOptions } from "./http-client.ts";
import { type InprocNetwork, InprocTransport } from "./inproc.ts";
import { NatsTransport } from "./nats-rpc-client.ts";
import type { SendOptions, Transport } from "./types.ts";

function schemeOf(address: string): string {
  const colon = address.indexOf(":");
  return colon < 0 ? "" : address.slice(0, colon + 1);
}

/**
 * Several transports behind one: each call goes to the transport of its
 * target's address scheme (`inproc:`, `http:`). Clients take one of these.
 */
export class TransportSet implements Transport {
  readonly schemes: readonly string[];
  readonly #byScheme = new Map<string, Transport>();
  readonly #transports: readonly Transport[];

  constructor(transports: readonly Transport[]) {
    this.#transports = transports;
    for (const transport of transports) {
      for (const scheme of transport.schemes) {
        if (this.#byScheme.has(scheme)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `two transports serve the scheme ${scheme}`);
        this.#byScheme.set(scheme, transport);
      }
    }
    this.schemes = [...this.#byScheme.keys()];
  }

  /** The transport for an address, or KIT_ERR_UNKNOWN_BACKEND. */
  for(address: string): Transport {
    const scheme = schemeOf(address);
    const transport = this.#byScheme.get(scheme);
    if (transport === undefined) {
      throw kitErrors.create("KIT_ERR_UNKNOWN_BACKEND", `no transport for the address ${address}: expected one of ${this.schemes.join(", ")}`);
    }
    return transport;
  }

  unary<I extends DescMessage, O extends DescMessage>(target: Instance, method: DescMethodUnary<I, O>, input: MessageShape<I>, options: SendOptions): Promise<MessageShape<O>> {
    let transport: Transport;
    try {
      transport = this.for(target.address);
    } catch (error) {
      return Promise.reject(error);
    }
    return transport.unary(target, method, input, options);
  }

  async close(): Promise<void> {
    await Promise.all(this.#transports.map((t) => t.close()));
  }
}

export interface CreateTransportsOptions {
  /** Serve `inproc://` addresses from this network (the embedded runtime). */
  inproc?: InprocNetwork;
  /** Options of the `http:` transport, or false for none. @default {} */
  http?: HttpTransportOptions | false;
}

/**
 *   const transports = createTransports({ inproc: network });   // inproc: and http:
 *   const transports = createTransports({ http: { connections: 64 } });
 */
export function createTransports(options: CreateTransportsOptions = {}): TransportSet {
  const transports: Transport[] = [];
  if (options.inproc !== undefined) transports.push(new InprocTransport(options.inproc));
  if (options.http !== false) transports.push(new HttpTransport(options.http ?? {}));
  return new TransportSet(transports);
}

export interface NetworkTransportsOptions {
  /** Options of the `http:` transport. @default {} */
  http?: HttpTransportOptions;
  /** NATS server(s), `nats://host:port[,…]`, for instances that advertise `nats:` addresses; none if absent. */
  natsUrl?: string;
}

/**
 * The transports of a process in the distributed runtime: `http:` always, and
 * `nats:` when a NATS URL is given, so it can call every instance whichever
 * transport the instance advertises (FLOTILLA_RPC_TRANSPORT).
 */
export async function createNetworkTransports(options: NetworkTransportsOptions = {}): Promise<TransportSet> {
  const transports: Transport[] = [new HttpTransport(options.http ?? {})];
  if (options.natsUrl !== undefined) {
    const servers = options.natsUrl.split(",").map((s) => s.trim()).filter((s) => s !== "");
    transports.push(await NatsTransport.connect({ servers }));
  }
  return new TransportSet(transports);
}
