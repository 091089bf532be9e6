import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { kitErrors } from "../errors/index.ts";
import { fromNatsMessage } from "./nats-binding.ts";
import { type ResolvedSubscribeOptions, redeliveryDelay } from "./subscribe-options.ts";
import type { CloudEvent, DeliveryHandler, Subscription } from "./types.ts";

export interface NatsSubscriptionInit {
  js: JetStreamClient;
  stream: string;
  durable: string;
  options: ResolvedSubscribeOptions;
  handler: DeliveryHandler;
  /** Re-creates the stream and consumer if they are gone; run before each restart of the pull loop. */
  ensure: () => Promise<void>;
  ackWaitMs: number;
  /** How long one pull request waits for messages. */
  pullExpiresMs: number;
  /** Pause before pulling again after the loop failed (server gone, consumer lost). */
  retryMs: number;
  onError: (error: unknown) => void;
  onStop: (subscription: NatsSubscription) => void;
}

/**
 * One replica of a durable pull consumer. It pulls with `fetch` for no more
 * messages than it has free handler slots, one pull request at a time, and
 * stop() lets the open request run out (≤ pullExpiresMs) rather than drop it:
 * nats-server 2.9 cannot cancel a pull request, and messages it sends to one
 * whose subscriber went away would sit unacknowledged until ack_wait. Anything
 * arriving after stop() is nak'ed for another replica at once (its attempt
 * count goes up by one).
 */
export class NatsSubscription implements Subscription {
  readonly #init: NatsSubscriptionInit;
  readonly #inFlight = new Set<Promise<void>>();
  #roomWaiter: (() => void) | undefined;
  #batch: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(init: NatsSubscriptionInit) {
    this.#init = init;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#roomWaiter?.();
      this.#wake?.();
      this.#init.onStop(this);
    }
    // While disconnected a pull never runs out on its own: give up on it.
    const batch = this.#batch;
    const force = setTimeout(() => void batch?.close(), this.#init.pullExpiresMs + 2000);
    await this.#loop;
    clearTimeout(force);
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async #run(): Promise<void> {
    const { js, stream, durable, options } = this.#init;
    let restart = false;
    let failing = false;
    while (!this.#stopping) {
      try {
        if (restart) await this.#init.ensure();
        restart = true;
        const consumer = await js.consumers.get(stream, durable);
        while (!this.#stopping) {
          await this.#room();
          if (this.#stopping) break;
          const free = options.concurrency - this.#inFlight.size;
          const batch = await consumer.fetch({ max_messages: free, expires: this.#init.pullExpiresMs });
          this.#batch = batch;
          for await (const msg of batch) {
            if (this.#stopping) msg.nak();
            else this.#handle(msg);
          }
          this.#batch = undefined;
          failing = false;
        }
      } catch (error) {
        this.#batch = undefined;
        // Reported once per outage, not on every retry.
        if (!this.#stopping && !failing) this.#init.onError(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `consumer "${options.consumer}" cannot pull; retrying`, { cause: error }));
        failing = true;
      }
      if (!this.#stopping) await this.#pause(this.#init.retryMs);
    }
  }

  /** Resolves when at least half the handler slots are free, so pulls come in batches. */
  #room(): Promise<void> {
    const wanted = Math.ceil(this.#init.options.concurrency / 2);
    if (this.#init.options.concurrency - this.#inFlight.size >= wanted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#roomWaiter = () => {
        if (this.#stopping || this.#init.options.concurrency - this.#inFlight.size >= wanted) {
          this.#roomWaiter = undefined;
          resolve();
        }
      };
    });
  }

  #handle(msg: JsMsg): void {
    let event: CloudEvent;
    try {
      event = fromNatsMessage(msg);
    } catch (error) {
      // No handler can take it and redelivery will not fix it.
      msg.term("not a binary-mode CloudEvent");
      this.#init.onError(error);
      return;
    }
    const attempt = msg.info.deliveryCount;
    const task = this.#deliver(msg, event, attempt).finally(() => {
      this.#inFlight.delete(task);
      this.#roomWaiter?.();
    });
    this.#inFlight.add(task);
  }

  async #deliver(msg: JsMsg, event: CloudEvent, attempt: number): Promise<void> {
    // A slow handler keeps its claim instead of being redelivered to a replica.
    const keepAlive = setInterval(() => msg.working(), Math.max(1000, this.#init.ackWaitMs / 2));
    let ok = true;
    try {
      await this.#init.handler({ event, attempt });
    } catch {
      ok = false;
    } finally {
      clearInterval(keepAlive);
    }
    if (!ok) {
      msg.nak(redeliveryDelay(this.#init.options.backoffMs, attempt));
      return;
    }
    try {
      // Confirmed, so a stop() that resolves means the server has the ack.
      await msg.ackAck();
    } catch (error) {
      this.#init.onError(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `ack of event ${event.id} was not confirmed; it may be delivered again`, { cause: error }));
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
