/**
 * A CloudEvents 1.0 event as it travels on the bus. `data` is the protobuf
 * encoding of the event message; `type` comes from the message's
 * `(flotilla.options.v1.event_type)` option, e.g. `catalog.event_published.v1`.
 */
export interface CloudEvent {
  readonly specversion: "1.0";
  /** Unique per event; consumers dedupe on it (the inbox). */
  readonly id: string;
  /** The publishing service, as a URI reference: `/flotilla/catalog`. */
  readonly source: string;
  readonly type: string;
  /** The entity the event is about, e.g. the event id. */
  readonly subject?: string;
  /** RFC 3339. */
  readonly time: string;
  readonly datacontenttype: "application/protobuf";
  /** The protobuf message's full name, e.g. `flotilla.catalog.v1.EventPublished`. */
  readonly dataschema: string;
  /** W3C trace context of the publishing call (CloudEvents distributed-tracing extension). */
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly data: Uint8Array;
}

/** One delivery of an event to a consumer. */
export interface Delivery {
  readonly event: CloudEvent;
  /** 1 for the first delivery, then 2, 3, … on redelivery. */
  readonly attempt: number;
}

/**
 * Resolving acknowledges the event; throwing asks for redelivery later
 * (with backoff). Handlers must be idempotent or go through the inbox.
 */
export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface SubscribeOptions {
  /**
   * Durable consumer name, unique per service and subscription, e.g.
   * `notifications.message-sent`. Replicas using the same name share the work;
   * the position survives restarts.
   */
  readonly consumer: string;
  /** The event type this subscription receives. */
  readonly type: string;
  /** Redelivery delays by attempt; the last one repeats. @default [100, 500, 2000, 10000] */
  readonly backoffMs?: readonly number[];
  /** Deliveries handled at once by this process. @default 16 */
  readonly concurrency?: number;
}

export interface Subscription {
  /** Stops receiving; resolves when handlers in progress have finished. */
  stop(): Promise<void>;
}

/**
 * The event bus: durable, at-least-once. Implementations side by side:
 * `memory` (in-process, same semantics) and `nats` (JetStream). Services do
 * not publish directly: they write to their outbox in the same transaction as
 * their state, and the relay publishes (see ../outbox).
 */
export interface EventBus {
  /** Resolves once the broker has durably stored every event (acknowledged). */
  publish(events: readonly CloudEvent[]): Promise<void>;
  subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription>;
  close(): Promise<void>;
}
