// Corks NATS publishes until the end of the event-loop turn. nats.js writes
// its outbound buffer to the socket one microtask after the first publish;
// when answers are produced by promise chains of different depths (handlers,
// interceptors, the client's guards), that microtask runs between them and
// each answer costs a socket write. Publishing them all from one setImmediate
// puts every message of the turn into one write — the same trick that lets
// Moleculer carry many calls per system call.
import type { NatsConnection, PublishOptions } from "@nats-io/transport-node";

interface Queued {
  subject: string;
  data: Uint8Array | string;
  options: PublishOptions | undefined;
  onError: ((error: unknown) => void) | undefined;
}

export class PublishBatch {
  readonly #nc: NatsConnection;
  #queue: Queued[] = [];
  #scheduled = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** Publishes at the end of this event-loop turn; `onError` hears if the connection refuses it. */
  publish(subject: string, data: Uint8Array | string, options?: PublishOptions, onError?: (error: unknown) => void): void {
    this.#queue.push({ subject, data, options, onError });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    const nc = this.#nc;
    for (const item of queue) {
      try {
        nc.publish(item.subject, item.data, item.options);
      } catch (error) {
        item.onError?.(error);
      }
    }
  };

  /** Publishes what is queued now (before a flush or close). */
  flushNow(): void {
    if (this.#queue.length > 0) this.#flush();
  }
}
