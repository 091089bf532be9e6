import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import type { PeerCertificate } from "node:tls";
import { Agent } from "undici";
import type { Instance } from "../../registry/types.ts";
import { HttpTransport, type HttpTransportOptions } from "../../transport/http-client.ts";
import type { SendOptions, Transport } from "../../transport/types.ts";
import type { CertSource } from "./cert-source.ts";
import type { ServiceCredentials } from "./issuer.ts";
import { serviceOfPeerCertificate, spiffeIdOf } from "./spiffe.ts";

export type MtlsTransportOptions = Omit<HttpTransportOptions, "dispatcher">;

/**
 * Calls `https://` instances presenting this service's certificate, and
 * accepts the server only if its certificate is from the platform CA AND names
 * the service the call is meant for (`spiffe://flotilla/<target.service>`) —
 * the SPIFFE ID replaces the host name check, since addresses are IPs.
 *
 * One HttpTransport (one undici Agent) per target service; a renewed
 * certificate starts fresh Agents for new connections while the old ones
 * finish their calls and close.
 */
export class MtlsTransport implements Transport {
  readonly schemes = ["https:"] as const;
  readonly #source: CertSource;
  readonly #options: MtlsTransportOptions;
  #byService = new Map<string, HttpTransport>();
  #credentials: ServiceCredentials;
  readonly #stop: () => void;

  constructor(source: CertSource, options: MtlsTransportOptions = {}) {
    this.#source = source;
    this.#options = options;
    this.#credentials = source.current();
    this.#stop = source.onRenew((credentials) => {
      this.#credentials = credentials;
      const old = this.#byService;
      this.#byService = new Map();
      for (const transport of old.values()) void transport.close().catch(() => {});
    });
  }

  /** The SPIFFE ID this transport presents. */
  get identity(): string {
    return spiffeIdOf(this.#source.service);
  }

  #transportFor(service: string): HttpTransport {
    let transport = this.#byService.get(service);
    if (transport === undefined) {
      const { cert, key, ca } = this.#credentials;
      const keepAliveTimeout = this.#options.keepAliveTimeoutMs ?? 4000;
      const dispatcher = new Agent({
        connections: this.#options.connections ?? 128,
        pipelining: 1,
        keepAliveTimeout,
        keepAliveMaxTimeout: Math.max(keepAliveTimeout, 30_000),
        connect: {
          cert,
          key,
          ca,
          minVersion: "TLSv1.3",
          rejectUnauthorized: true,
          checkServerIdentity: (_host: string, peer: PeerCertificate) =>
            serviceOfPeerCertificate(peer) === service ? undefined : new Error(`the server is not ${spiffeIdOf(service)} (subjectAltName ${peer.subjectaltname ?? "none"})`),
        },
      });
      transport = new HttpTransport({ ...this.#options, dispatcher });
      this.#byService.set(service, transport);
    }
    return transport;
  }

  unary<I extends DescMessage, O extends DescMessage>(target: Instance, method: DescMethodUnary<I, O>, input: MessageShape<I>, options: SendOptions): Promise<MessageShape<O>> {
    return this.#transportFor(target.service).unary(target, method, input, options);
  }

  async close(): Promise<void> {
    this.#stop();
    await Promise.all([...this.#byService.values()].map((t) => t.close()));
    this.#byService.clear();
  }
}
