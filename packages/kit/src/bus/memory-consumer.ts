import { copyEvent } from "./event-checks.ts";
import { type ResolvedSubscribeOptions, redeliveryDelay } from "./subscribe-options.ts";
import type { CloudEvent, Delivery, DeliveryHandler, Subscription } from "./types.ts";

/** The bus's append-only log as a consumer sees it. */
export interface MemoryLog {
  /** Events by sequence - 1. */
  readonly events: readonly CloudEvent[];
}

/** One replica's attachment to a durable consumer. */
class MemoryReplica implements Subscription {
  readonly #consumer: MemoryConsumer;
  readonly #handler: DeliveryHandler;
  readonly concurrency: number;
  readonly backoffMs: readonly number[];
  readonly #inFlight = new Set<Promise<boolean>>();
  #stopped = false;

  constructor(consumer: MemoryConsumer, options: ResolvedSubscribeOptions, handler: DeliveryHandler) {
    this.#consumer = consumer;
    this.#handler = handler;
    this.concurrency = options.concurrency;
    this.backoffMs = options.backoffMs;
  }

  get free(): number {
    return this.#stopped ? 0 : this.concurrency - this.#inFlight.size;
  }

  /** Runs the handler on a later tick; resolves true when it acknowledged, after freeing its slot. */
  run(delivery: Delivery): Promise<boolean> {
    const done = Promise.resolve()
      .then(() => this.#handler(delivery))
      .then(
        () => true,
        () => false,
      )
      .then((acked) => {
        this.#inFlight.delete(done);
        return acked;
      });
    this.#inFlight.add(done);
    return done;
  }

  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#consumer.detach(this);
    }
    // Handlers finish, and their ack or nak is applied, before stop resolves.
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}

/**
 * A durable consumer of the memory bus: like a JetStream durable pull consumer
 * with DeliverPolicy.All and explicit acks. Its position (the log cursor, the
 * unacknowledged events and their attempt counts) lives here, not in the
 * replicas, so it survives every replica stopping and a new one attaching.
 */
export class MemoryConsumer {
  readonly name: string;
  readonly type: string;
  readonly #log: MemoryLog;
  /** Next log index not yet looked at. */
  #cursor = 0;
  /** Deliveries made so far of each event not yet acknowledged, by log index. */
  readonly #attempts = new Map<number, number>();
  /** Failed events whose backoff has passed, oldest first. */
  readonly #due: number[] = [];
  /** Failed events still in backoff: log index → when it may be redelivered. */
  readonly #backingOff = new Map<number, number>();
  readonly #replicas: MemoryReplica[] = [];
  #nextReplica = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(name: string, type: string, log: MemoryLog) {
    this.name = name;
    this.type = type;
    this.#log = log;
  }

  attach(options: ResolvedSubscribeOptions, handler: DeliveryHandler): Subscription {
    const replica = new MemoryReplica(this, options, handler);
    this.#replicas.push(replica);
    this.#arm();
    this.pump();
    return replica;
  }

  detach(replica: MemoryReplica): void {
    const index = this.#replicas.indexOf(replica);
    if (index >= 0) this.#replicas.splice(index, 1);
    // Redeliveries wait for the next replica, as JetStream's do with no puller.
    if (this.#replicas.length === 0) this.#disarm();
  }

  /** Hands out every deliverable event to replicas with room, round-robin. */
  pump(): void {
    for (;;) {
      const replica = this.#pickReplica();
      if (replica === undefined) return;
      const index = this.#due.shift() ?? this.#nextNew();
      if (index === undefined) return;
      this.#deliver(replica, index);
    }
  }

  #pickReplica(): MemoryReplica | undefined {
    const count = this.#replicas.length;
    for (let i = 0; i < count; i++) {
      const replica = this.#replicas[(this.#nextReplica + i) % count];
      if (replica !== undefined && replica.free > 0) {
        this.#nextReplica = (this.#nextReplica + i + 1) % count;
        return replica;
      }
    }
    return undefined;
  }

  #nextNew(): number | undefined {
    const events = this.#log.events;
    while (this.#cursor < events.length) {
      const index = this.#cursor++;
      if (events[index]?.type === this.type) return index;
    }
    return undefined;
  }

  #deliver(replica: MemoryReplica, index: number): void {
    const event = this.#log.events[index] as CloudEvent;
    const attempt = (this.#attempts.get(index) ?? 0) + 1;
    this.#attempts.set(index, attempt);
    void replica.run({ event: copyEvent(event), attempt }).then((acked) => {
      if (acked) {
        this.#attempts.delete(index);
      } else {
        this.#backingOff.set(index, Date.now() + redeliveryDelay(replica.backoffMs, attempt));
        this.#arm();
      }
      this.pump();
    });
  }

  /** One timer for the earliest redelivery, only while some replica can take it. */
  #arm(): void {
    this.#disarm();
    if (this.#replicas.length === 0 || this.#backingOff.size === 0) return;
    const next = Math.min(...this.#backingOff.values());
    this.#timer = setTimeout(() => this.#release(), Math.max(0, next - Date.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #release(): void {
    this.#timer = undefined;
    const now = Date.now();
    const ready = [...this.#backingOff].filter(([, at]) => at <= now).map(([index]) => index);
    for (const index of ready.sort((a, b) => a - b)) {
      this.#backingOff.delete(index);
      this.#due.push(index);
    }
    this.#arm();
    this.pump();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#replicas].map((r) => r.stop()));
    this.#disarm();
  }
}
