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
  /** Resolves once the server has everything sent so far on the connection (the acks). */
  flush: () => Promise<void>;
  onStop: (subscription: NatsSubscription) => void;
}

/**
 * One replica of a durable pull consumer. It pulls with `fetch` for no more
 * messages than it has free handler slots, counting those already asked for
 * by pull requests still open, and asks again as soon as a quarter of the
 * slots are free, so that several pull requests overlap and the handlers
 * never wait for a round trip to the server. stop() lets the open requests
 * run out (≤ pullExpiresMs) rather than drop them: nats-server 2.9 cannot
 * cancel a pull request, and messages it sends to one whose subscriber went
 * away would sit unacknowledged until ack_wait. Anything arriving after
 * stop() is nak'ed for another replica at once (its attempt count goes up by
 * one).
 */
export class NatsSubscription implements Subscription {
  readonly #init: NatsSubscriptionInit;
  readonly #inFlight = new Set<Promise<void>>();
  #roomWaiter: (() => void) | undefined;
  /** Open pull requests, and the messages they may still bring. */
  readonly #pulls = new Set<ConsumerMessages>();
  #requested = 0;
  #pullFailure: { error: unknown } | undefined;
  /** Messages whose handler is running (or waiting for its batch). */
  readonly #working = new Set<JsMsg>();
  #keepAlive: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(init: NatsSubscriptionInit) {
    this.#init = init;
  }

  start(): void {
    // A slow handler keeps its claim instead of being redelivered to a replica:
    // one timer for every message in hand, not one per message.
    this.#keepAlive = setInterval(() => {
      for (const msg of this.#working) msg.working();
    }, Math.max(1000, this.#init.ackWaitMs / 2));
    this.#keepAlive.unref();
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
    const force = setTimeout(() => {
      for (const pull of this.#pulls) void pull.close();
    }, this.#init.pullExpiresMs + 2000);
    await this.#loop;
    clearTimeout(force);
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
    clearInterval(this.#keepAlive);
    // Acks are sent without waiting for each to be confirmed; a stop() that
    // resolves still means the server has them all.
    await this.#init.flush().catch((error: unknown) => {
      this.#init.onError(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `consumer "${this.#init.options.consumer}": acks may not have reached the server; those events may be delivered again`, { cause: error }));
    });
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
          if (this.#pullFailure !== undefined) throw this.#pullFailure.error;
          if (this.#stopping) break;
          const free = options.concurrency - this.#inFlight.size - this.#requested;
          const pull = await consumer.fetch({ max_messages: free, expires: this.#init.pullExpiresMs });
          this.#requested += free;
          this.#pulls.add(pull);
          void this.#receive(pull, free).then((ok) => {
            if (ok) failing = false;
          });
        }
        await this.#pullsEnded();
      } catch (error) {
        // The open requests of a failed loop end before the next one starts counting.
        for (const pull of this.#pulls) void pull.close();
        await this.#pullsEnded();
        this.#pullFailure = undefined;
        // Reported once per outage, not on every retry.
        if (!this.#stopping && !failing) this.#init.onError(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `consumer "${options.consumer}" cannot pull; retrying`, { cause: error }));
        failing = true;
      }
      if (!this.#stopping) await this.#pause(this.#init.retryMs);
    }
  }

  // Hands over the messages of one pull request as they come; the slots it
  // asked for and did not get are free again when it ends (full or expired).
  // Resolves false when the pull failed (the loop then starts again).
  async #receive(pull: ConsumerMessages, asked: number): Promise<boolean> {
    let left = asked;
    try {
      for await (const msg of pull) {
        left--;
        this.#requested--;
        if (this.#stopping) msg.nak();
        else this.#handle(msg);
      }
      return true;
    } catch (error) {
      this.#pullFailure ??= { error };
      return false;
    } finally {
      this.#requested -= left;
      this.#pulls.delete(pull);
      this.#roomWaiter?.();
    }
  }

  async #pullsEnded(): Promise<void> {
    while (this.#pulls.size > 0) {
      await new Promise<void>((resolve) => {
        this.#roomWaiter = resolve;
      });
    }
  }

  /**
   * Resolves when at least a quarter of the handler slots are neither busy nor
   * asked for, so pulls come in batches; or when a pull failed, or on stop().
   */
  #room(): Promise<void> {
    const { concurrency } = this.#init.options;
    const wanted = Math.ceil(concurrency / 4);
    const ready = () => this.#stopping || this.#pullFailure !== undefined || concurrency - this.#inFlight.size - this.#requested >= wanted;
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#roomWaiter = () => {
        if (ready()) {
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
    this.#working.add(msg);
    let ok = true;
    try {
      await this.#init.handler({ event, attempt });
    } catch {
      ok = false;
    } finally {
      this.#working.delete(msg);
    }
    if (!ok) {
      msg.nak(redeliveryDelay(this.#init.options.backoffMs, attempt));
      return;
    }
    // Not confirmed one by one (a round trip each, which held the handler
    // slot): a lost ack means one more delivery, which the inbox skips; stop()
    // flushes the connection so the acks sent so far reach the server.
    msg.ack();
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
