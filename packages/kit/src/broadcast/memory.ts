import { kitErrors } from "../errors/index.ts";
import { checkTopic } from "./topic.ts";
import type { Broadcast, BroadcastHandler, BroadcastSubscription } from "./types.ts";

/** The topics of one process; share one between `MemoryBroadcast`s to stand for several replicas in a test. */
export class MemoryBroadcastHub {
  readonly topics = new Map<string, Set<BroadcastHandler>>();
}

/** In-process broadcast: handlers run on a later tick, as they would after a network hop. */
export class MemoryBroadcast implements Broadcast {
  readonly hub: MemoryBroadcastHub;
  readonly #mine = new Set<{ topic: string; handler: BroadcastHandler }>();
  #closed = false;

  constructor(options: { hub?: MemoryBroadcastHub } = {}) {
    this.hub = options.hub ?? new MemoryBroadcastHub();
  }

  async publish(topic: string, payload: Uint8Array): Promise<void> {
    checkTopic(topic);
    this.#checkOpen();
    const handlers = this.hub.topics.get(topic);
    if (!handlers) return;
    const copy = payload.slice();
    for (const handler of [...handlers]) {
      queueMicrotask(() => {
        if (handlers.has(handler)) handler(copy);
      });
    }
  }

  async subscribe(topic: string, handler: BroadcastHandler): Promise<BroadcastSubscription> {
    checkTopic(topic);
    this.#checkOpen();
    // A wrapper per subscription: the same function subscribed twice is two subscriptions.
    const entry = { topic, handler: (p: Uint8Array) => handler(p) };
    let set = this.hub.topics.get(topic);
    if (!set) {
      set = new Set();
      this.hub.topics.set(topic, set);
    }
    set.add(entry.handler);
    this.#mine.add(entry);
    return {
      unsubscribe: async () => {
        this.#remove(entry);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of [...this.#mine]) this.#remove(entry);
  }

  #remove(entry: { topic: string; handler: BroadcastHandler }): void {
    this.#mine.delete(entry);
    const set = this.hub.topics.get(entry.topic);
    set?.delete(entry.handler);
    if (set?.size === 0) this.hub.topics.delete(entry.topic);
  }

  #checkOpen(): void {
    if (this.#closed) throw kitErrors.create("KIT_ERR_UNAVAILABLE", "the broadcast is closed");
  }
}
