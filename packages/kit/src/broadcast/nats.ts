import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { kitErrors } from "../errors/index.ts";
import { redactUrl } from "../registry/redact-url.ts";
import { checkTopic } from "./topic.ts";
import type { Broadcast, BroadcastHandler, BroadcastSubscription } from "./types.ts";

export type NatsBroadcastOptions = ({ servers: string | string[] } | { connection: NatsConnection }) & {
  /** Subject prefix: topic `user.x` is subject `<prefix>.user.x`. @default "broadcast" */
  prefix?: string;
  /** How long the first connect may take (only when `servers` is given). @default 2000 */
  connectTimeoutMs?: number;
};

/**
 * Broadcast over core NATS subjects (no JetStream: nothing is stored). A
 * publish reaches every subscription live at that moment, on any replica
 * (messaging: one topic that every replica subscribes, decision 0011).
 */
export class NatsBroadcast implements Broadcast {
  readonly #nc: NatsConnection;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #subs = new Set<Subscription>();

  private constructor(nc: NatsConnection, owned: boolean, prefix: string) {
    this.#nc = nc;
    this.#owned = owned;
    this.#prefix = prefix;
  }

  static async connect(options: NatsBroadcastOptions): Promise<NatsBroadcast> {
    const prefix = checkTopic(options.prefix ?? "broadcast");
    if ("connection" in options) return new NatsBroadcast(options.connection, false, prefix);
    try {
      const nc = await connect({ servers: options.servers, timeout: options.connectTimeoutMs ?? 2000, maxReconnectAttempts: -1 });
      return new NatsBroadcast(nc, true, prefix);
    } catch (error) {
      const servers = [options.servers].flat().map(redactUrl).join(", ");
      throw kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `cannot connect to NATS at ${servers} for broadcast`, { cause: error });
    }
  }

  async publish(topic: string, payload: Uint8Array): Promise<void> {
    this.#nc.publish(`${this.#prefix}.${checkTopic(topic)}`, payload);
  }

  async subscribe(topic: string, handler: BroadcastHandler): Promise<BroadcastSubscription> {
    const sub = this.#nc.subscribe(`${this.#prefix}.${checkTopic(topic)}`, { callback: (error, msg) => (error ? undefined : handler(msg.data)) });
    this.#subs.add(sub);
    // The server has the interest once a round trip after SUB has completed.
    await this.#nc.flush();
    return {
      unsubscribe: async () => {
        this.#subs.delete(sub);
        sub.unsubscribe();
      },
    };
  }

  async close(): Promise<void> {
    for (const sub of this.#subs) sub.unsubscribe();
    this.#subs.clear();
    if (this.#owned && !this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc.close());
  }
}
