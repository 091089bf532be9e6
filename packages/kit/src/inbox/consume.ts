/*
 * Guarantees of the inbox:
 *
 * - Every consumer applies an event effectively once. The bus delivers at
 *   least once; each delivery is applied in ONE transaction that first inserts
 *   (consumer, event id) into the inbox and then runs the handler with that
 *   transaction. Deliveries that arrive together share that transaction (up to
 *   `batchSize` of them; see batcher.ts), which changes none of this. A
 *   duplicate finds the row and skips the handler; a failure rolls back the
 *   row and the handler's writes together, and the bus redelivers. The event
 *   is acknowledged only after the commit, so a crash anywhere leaves either
 *   nothing (redelivered, applied then) or the commit (redelivered, skipped as
 *   a duplicate).
 * - Effects must go through `tx` to be covered: a handler that calls another
 *   service or sends a push does so at least once, and must pass the event id
 *   on as an idempotency key.
 * - No event is lost to a failing handler: after `maxAttempts` deliveries the
 *   event is stored as a dead letter (in its own transaction) before it is
 *   acknowledged, and replayDeadLetters() runs it again through the same
 *   inbox path. A database outage never dead-letters: it is retried.
 * - Inbox rows are kept for a retention (pruneInbox); a redelivery older than
 *   that would be applied again, so the retention must exceed the broker's
 *   redelivery horizon (its stream max age).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Logger, pino } from "pino";
import type { CloudEvent, Delivery, EventBus, SubscribeOptions, Subscription } from "../bus/types.ts";
import type { Database, Queryable } from "../db/types.ts";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import { InboxBatcher } from "./batcher.ts";
import { recordDeadLetter } from "./dead-letters.ts";
import { replayRequested } from "./replay.ts";

/** Attempts whose retryable failures are logged at info, not warn. */
export const QUIET_ATTEMPTS = 3;

/** A handler under the inbox: its writes through `tx` commit with the inbox row, or not at all. */
export type InboxHandler = (event: CloudEvent, tx: Queryable) => Promise<void>;

/**
 * The new events of one inbox transaction, in arrival order, handled in one
 * call (see consumeBatches): the same guarantees as InboxHandler, for all of
 * them together.
 */
export type InboxBatchHandler = (events: readonly CloudEvent[], tx: Queryable) => Promise<void>;

export interface ConsumeOptions extends SubscribeOptions {
  /**
   * Deliveries held at once: waiting for their batch, or in it. Handlers do
   * not run that many at a time (at most `transactions`, one per batch), so
   * this can be far above a bus subscriber's default. @default 256
   */
  concurrency?: number;
  /** Deliveries before the event becomes a dead letter. @default 10 */
  maxAttempts?: number;
  /** How often to look for replays requested with replayDeadLetters(). @default 1000 */
  replayPollMs?: number;
  /** Most events applied in one inbox transaction (deliveries waiting together are applied together). @default 100 */
  batchSize?: number;
  /** Inbox transactions at once, each on a pooled connection. @default 4 */
  transactions?: number;
  log?: Logger;
}

/**
 * Subscribes `handler` to an event type through the inbox of `db`.
 *
 *   await consume(db, bus, { consumer: "notifications.event-published", type: "catalog.event_published.v1" }, async (event, tx) => {
 *     const { event: published } = decodeEvent(EventPublishedSchema, event);
 *     await tx.query("INSERT INTO digests (catalog_event_id, title) VALUES ($1, $2)", [published?.id, published?.title]);
 *   });
 */
export async function consume(db: Database, bus: EventBus, options: ConsumeOptions, handler: InboxHandler): Promise<Subscription> {
  return subscribeInbox(db, bus, options, handler, undefined);
}

/**
 * consume() with a handler that takes the new events of an inbox transaction
 * together, for handlers whose cost is a statement per event (a round trip
 * each): with a batch they can write one multi-row statement instead.
 *
 *   await consumeBatches(db, bus, { consumer: "search.event-published", type }, async (events, tx) => {
 *     await tx.query("INSERT INTO digests (event_id, title) SELECT * FROM unnest($1::text[], $2::text[])", [ids, titles]);
 *   });
 *
 * When the handler throws for a batch of several events, each of them is
 * applied again on its own (one call with one event each), so that only the
 * event that fails is retried, with backoff, and dead-lettered after
 * `maxAttempts`; the others' first run was rolled back. Replays of dead
 * letters call it with one event.
 */
export async function consumeBatches(db: Database, bus: EventBus, options: ConsumeOptions, handler: InboxBatchHandler): Promise<Subscription> {
  return subscribeInbox(db, bus, options, (event, tx) => handler([event], tx), handler);
}

async function subscribeInbox(
  db: Database,
  bus: EventBus,
  options: ConsumeOptions,
  handler: InboxHandler,
  batchHandler: InboxBatchHandler | undefined,
): Promise<Subscription> {
  const { maxAttempts = 10, replayPollMs = 1000, batchSize = 100, transactions = 4, log = pino({ level: "silent" }), concurrency = 256, ...rest } = options;
  const subscribe = { ...rest, concurrency };
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `consumer "${options.consumer}": maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  if (!Number.isFinite(replayPollMs) || replayPollMs <= 0) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `consumer "${options.consumer}": replayPollMs must be a positive number, got ${replayPollMs}`);
  }
  for (const [name, value] of [
    ["batchSize", batchSize],
    ["transactions", transactions],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `consumer "${options.consumer}": ${name} must be an integer >= 1, got ${value}`);
    }
  }
  const { consumer } = subscribe;
  const context = { consumer, type: subscribe.type };
  const inbox = new InboxBatcher({ db, consumer, handler, batchHandler, maxBatch: batchSize, maxTransactions: transactions });

  const deliver = async ({ event, attempt }: Delivery): Promise<void> => {
    try {
      await inbox.apply(event, { clearDeadLetter: attempt > maxAttempts });
    } catch (error) {
      if (attempt < maxAttempts || kitErrors.is(error, "KIT_ERR_DB_UNAVAILABLE")) {
        // A retryable error on the first attempts is usually an event ahead of another it needs
        // (no order holds between event types): worth a warning only once it persists.
        const passing = error instanceof FlotillaError && error.retryable && attempt < QUIET_ATTEMPTS;
        log[passing ? "info" : "warn"]({ ...context, err: error, eventId: event.id, attempt }, "event handler failed; the bus will redeliver");
        throw error;
      }
      // Throws when the database fails too: the bus then redelivers, and this runs again.
      await recordDeadLetter(db, consumer, event, error, attempt);
      log.error({ ...context, err: error, eventId: event.id, attempt }, "event handler failed for the last time; stored as a dead letter");
    }
  };
  const subscription = await bus.subscribe(subscribe, deliver);

  const stopping = new AbortController();
  const poller = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await replayRequested(db, consumer, handler, log, stopping.signal);
      } catch (error) {
        log.warn({ ...context, err: error }, "cannot look for dead-letter replays; will retry");
      }
      // Unref'd: a consumer that was never stopped must not keep a finished process alive.
      await sleep(replayPollMs, undefined, { signal: stopping.signal, ref: false }).catch(() => {});
    }
  })();

  return {
    stop: async () => {
      stopping.abort();
      await Promise.all([subscription.stop(), poller]);
    },
  };
}
