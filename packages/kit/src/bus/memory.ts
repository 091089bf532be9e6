import { kitErrors } from "../errors/index.ts";
import { checkCloudEvent, copyEvent } from "./event-checks.ts";
import { MemoryConsumer } from "./memory-consumer.ts";
import { resolveSubscribeOptions } from "./subscribe-options.ts";
import type { CloudEvent, DeliveryHandler, EventBus, SubscribeOptions, Subscription } from "./types.ts";

export interface MemoryBusOptions {
  /**
   * How long a published event id is remembered so that publishing it again is
   * a no-op, like JetStream's duplicate window. @default 120000
   */
  duplicateWindowMs?: number;
}

/**
 * The event bus in one process, with JetStream's semantics: an append-only log
 * (kept for the bus's lifetime), durable consumers by name whose position
 * survives stop/subscribe on the same bus object, replicas sharing a consumer's
 * work, redelivery with backoff and at-least-once delivery.
 *
 * A consumer name seen for the first time starts at the beginning of the log
 * (JetStream's DeliverPolicy.All), so a late subscriber also gets the events
 * published before it existed.
 *
 *   const bus = new MemoryBus();
 *   await bus.subscribe({ consumer: "notifications.event-published", type: "catalog.event_published.v1" }, async ({ event, attempt }) => {...});
 *   await bus.publish([event]);
 */
export class MemoryBus implements EventBus {
  readonly duplicateWindowMs: number;
  readonly #log: CloudEvent[] = [];
  /** Event id → when it was stored; insertion order is time order. */
  readonly #recentIds = new Map<string, number>();
  readonly #consumers = new Map<string, MemoryConsumer>();
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
  }

  async publish(events: readonly CloudEvent[]): Promise<void> {
    this.#assertOpen();
    for (const event of events) checkCloudEvent(event);
    const now = Date.now();
    this.#forgetOldIds(now);
    for (const event of events) {
      if (this.#recentIds.has(event.id)) continue;
      this.#recentIds.set(event.id, now);
      // A copy: the publisher may reuse its buffers.
      this.#log.push(Object.freeze(copyEvent(event)));
    }
    for (const consumer of this.#consumers.values()) consumer.pump();
  }

  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    this.#assertOpen();
    const resolved = resolveSubscribeOptions(options);
    let consumer = this.#consumers.get(resolved.consumer);
    if (consumer === undefined) {
      consumer = new MemoryConsumer(resolved.consumer, resolved.type, { events: this.#log });
      this.#consumers.set(resolved.consumer, consumer);
    } else if (consumer.type !== resolved.type) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `consumer "${resolved.consumer}" already follows ${consumer.type}, not ${resolved.type}: use another consumer name`);
    }
    return consumer.attach(resolved, handler);
  }

  /** Stops every subscription (waiting for handlers in progress); publish and subscribe then fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers.values()].map((c) => c.stopAll()));
  }

  #forgetOldIds(now: number): void {
    for (const [id, at] of this.#recentIds) {
      if (now - at < this.duplicateWindowMs) return;
      this.#recentIds.delete(id);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", "the bus is closed");
  }
}
