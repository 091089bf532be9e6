/*
 * Guarantees of the outbox and its relay:
 *
 * - An accepted write is durable: events are rows written in the same
 *   transaction as the state change (see enqueue.ts), so they commit or roll
 *   back with it. Nothing is held only in memory.
 * - Every event is published at least once. A row leaves the outbox only
 *   after the broker acknowledged it; a failed publish records the error and
 *   retries the row with exponential backoff (capped), forever. There is no
 *   terminal failure state: a row that never goes out is visible in stats()
 *   and in `last_error`, not silently dropped.
 * - Duplicates happen only after a failure (a crash between the broker's ack
 *   and the delete, an ack lost on the way, a lease that ran out under a very
 *   slow publish). The broker dedupes on the event id and consumers dedupe
 *   again in their inbox, so a duplicate is never applied twice.
 *
 * Replicas: every replica may run a relay on the same database. A relay claims
 * a batch by pushing its rows' `next_attempt_at` past a lease
 * (`FOR UPDATE SKIP LOCKED`, so two relays never claim the same row), then
 * publishes outside any transaction, so no lock is held while the broker is
 * slow (on PGlite, one connection for every service, a transaction held across
 * a publish would stall the whole process). A relay that dies mid-batch delays
 * that batch by at most `leaseMs`; another relay, or its restart, takes it.
 *
 * Ordering consumers may rely on: none across events. A relay claims its
 * batches in position (insertion) order, but publishes `concurrency` of them
 * side by side, positions are assigned at insert and not at commit, replicas'
 * relays publish their batches side by side, a failed row is retried after
 * later rows went out, and the bus redelivers failed deliveries after later
 * ones. A consumer that needs order carries a
 * version in the event (e.g. the aggregate's version) and checks it.
 */
import { type Logger, pino } from "pino";
import type { CloudEvent, EventBus } from "../bus/types.ts";
import type { Database } from "../db/types.ts";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import { describeError } from "./describe-error.ts";
import { EVENT_COLUMNS, type EventRow, rowToEvent } from "./event-row.ts";

export interface OutboxRelayOptions {
  db: Database;
  bus: EventBus;
  /** Rows published per broker call. @default 500 */
  batchSize?: number;
  /**
   * Batches in flight at once, each claimed by its own loop (SKIP LOCKED, as
   * between replicas): while one waits for the broker's acks or the database,
   * another claims and publishes. @default 2
   */
  concurrency?: number;
  /** How often to look for rows when nothing nudged the relay. @default 200 */
  pollMs?: number;
  /** Retry delay of a row after a failed publish: baseMs · 2^(attempts−1), capped at maxMs, ±25 % jitter. @default { baseMs: 200, maxMs: 30_000 } */
  backoff?: { baseMs?: number; maxMs?: number };
  /** A publish not acknowledged by then counts as failed (and is retried). @default 10_000 */
  publishTimeoutMs?: number;
  /** How long a claimed batch stays invisible to other relays; must exceed publishTimeoutMs. @default 30_000 */
  leaseMs?: number;
  log?: Logger;
}

export interface OutboxStats {
  /** Rows waiting in the outbox (due now or backing off). */
  pending: number;
  /** Age of the oldest waiting row in ms; 0 when none waits. */
  oldestPendingMs: number;
  /** Events this relay published since it was created. */
  published: number;
  /** Publishes of this relay that failed and were scheduled again. */
  failures: number;
  /** The last publish or database error this relay saw, if any. */
  lastError: string | undefined;
}

interface ClaimedRow extends EventRow {
  position: string;
}

const SELECT_COLUMNS = ["position", ...EVENT_COLUMNS].join(", ");
const MAX_ERROR_LENGTH = 2000;

/**
 * Publishes what enqueue() wrote, in the background.
 *
 *   const relay = new OutboxRelay({ db, bus, log });
 *   relay.start();
 *   // after each commit that enqueued events:
 *   relay.nudge();
 *   // on shutdown (finishes the batch in flight):
 *   await relay.stop();
 */
export class OutboxRelay {
  readonly #db: Database;
  readonly #bus: EventBus;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #pollMs: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #publishTimeoutMs: number;
  readonly #leaseMs: number;
  readonly #log: Logger;
  #loops: Promise<void>[] | undefined;
  #stopping = false;
  #nudged = false;
  /** Wakers of the loops that are sleeping. */
  readonly #sleepers = new Set<() => void>();
  #published = 0;
  #failures = 0;
  #lastError: string | undefined;

  constructor(options: OutboxRelayOptions) {
    this.#db = options.db;
    this.#bus = options.bus;
    this.#batchSize = positive("batchSize", options.batchSize ?? 500);
    this.#concurrency = options.concurrency ?? 2;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `outbox relay: concurrency must be an integer >= 1, got ${this.#concurrency}`);
    }
    this.#pollMs = positive("pollMs", options.pollMs ?? 200);
    this.#baseMs = positive("backoff.baseMs", options.backoff?.baseMs ?? 200);
    this.#maxMs = positive("backoff.maxMs", options.backoff?.maxMs ?? 30_000);
    this.#publishTimeoutMs = positive("publishTimeoutMs", options.publishTimeoutMs ?? 10_000);
    this.#leaseMs = positive("leaseMs", options.leaseMs ?? 30_000);
    if (this.#leaseMs <= this.#publishTimeoutMs) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `outbox relay: leaseMs (${this.#leaseMs}) must exceed publishTimeoutMs (${this.#publishTimeoutMs})`);
    }
    this.#log = options.log ?? pino({ level: "silent" });
  }

  /** Starts the background loops (idempotent). */
  start(): void {
    if (this.#loops !== undefined) return;
    this.#stopping = false;
    this.#loops = Array.from({ length: this.#concurrency }, () => this.#run());
  }

  /** Stops the loops after the batches in flight have been published and cleared, or failed. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const wake of [...this.#sleepers]) wake();
    await Promise.all(this.#loops ?? []);
    this.#loops = undefined;
  }

  /** Asks for a look at the outbox now: call it after committing a transaction that enqueued events. */
  nudge(): void {
    this.#nudged = true;
    this.#wakeOne();
  }

  #wakeOne(): void {
    const [wake] = this.#sleepers;
    wake?.();
  }

  /**
   * Claims one batch of due rows, publishes it and removes it; returns how
   * many events went out (0 when none was due or the publish failed and was
   * rescheduled). The loop calls it; tests and a drain on shutdown may too.
   * Throws only when the database fails.
   */
  async publishDue(): Promise<number> {
    const rows = await this.#db.query<ClaimedRow>(
      `UPDATE flotilla_outbox SET next_attempt_at = now() + $2::float8 * interval '1 millisecond'
       WHERE position IN (
         SELECT position FROM flotilla_outbox WHERE next_attempt_at <= now()
         ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${SELECT_COLUMNS}`,
      [this.#batchSize, this.#leaseMs],
    );
    if (rows.length === 0) return 0;
    // RETURNING promises no order.
    rows.sort((a, b) => compareBigint(a.position, b.position));
    try {
      await this.#publish(rows.map(rowToEvent));
    } catch (error) {
      if (rows.length === 1 || retryable(error)) {
        await this.#reschedule(rows, error);
        return 0;
      }
      // The broker refused something it will never take (malformed, too
      // large): try each event alone, so that one bad row holds back no other.
      let published = 0;
      for (const row of rows) {
        try {
          await this.#publish([rowToEvent(row)]);
        } catch (single) {
          await this.#reschedule([row], single);
          continue;
        }
        await this.#remove([row]);
        published++;
      }
      return published;
    }
    await this.#remove(rows);
    return rows.length;
  }

  /** Counters of this relay and the size of the outbox (one query). */
  async stats(): Promise<OutboxStats> {
    const [row] = await this.#db.query<{ pending: string; oldest: number | null }>(
      "SELECT count(*) AS pending, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS oldest FROM flotilla_outbox",
    );
    return {
      pending: Number(row?.pending ?? 0),
      oldestPendingMs: Math.max(0, Math.round(row?.oldest ?? 0)),
      published: this.#published,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  async #run(): Promise<void> {
    let dbFailures = 0;
    while (!this.#stopping) {
      let published: number;
      try {
        published = await this.publishDue();
        dbFailures = 0;
      } catch (error) {
        // The database is down or failing: keep trying, further apart each time.
        dbFailures++;
        this.#lastError = describeError(error);
        this.#log.warn({ err: error, failures: dbFailures }, "outbox relay cannot reach its database; will retry");
        await this.#sleep(Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(dbFailures - 1, 30)));
        continue;
      }
      // A full batch means more may be due: go again at once, and call in a sleeping loop to help.
      if (published < this.#batchSize) await this.#sleep(this.#pollMs);
      else this.#wakeOne();
    }
  }

  // Resolves after `ms`, or earlier on nudge() or stop(); a nudge that came
  // while a batch was in flight skips the wait.
  #sleep(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    if (this.#nudged) {
      this.#nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        this.#nudged = false;
        resolve();
      };
      // Unref'd: a relay that was never stopped must not keep a finished process alive.
      const timer = setTimeout(done, ms).unref();
      this.#sleepers.add(done);
    });
  }

  // Back to the outbox with a later next_attempt_at; never dropped.
  async #reschedule(rows: readonly ClaimedRow[], error: unknown): Promise<void> {
    this.#failures++;
    this.#lastError = describeError(error);
    this.#log.warn({ err: error, events: rows.length, firstPosition: rows[0]?.position }, "outbox publish failed; will retry");
    await this.#db.query(
      `UPDATE flotilla_outbox
       SET attempts = attempts + 1,
           last_error = $2,
           next_attempt_at = now() + least($4::float8, $3::float8 * power(2, least(attempts, 30)) * $5::float8) * interval '1 millisecond'
       WHERE position = ANY($1::bigint[])`,
      // One jitter for the whole batch, so that it stays one batch on its next try.
      [rows.map((r) => r.position), this.#lastError.slice(0, MAX_ERROR_LENGTH), this.#baseMs, this.#maxMs, 0.75 + Math.random() / 2],
    );
  }

  async #remove(rows: readonly ClaimedRow[]): Promise<void> {
    await this.#db.query("DELETE FROM flotilla_outbox WHERE position = ANY($1::bigint[])", [rows.map((r) => r.position)]);
    this.#published += rows.length;
  }

  async #publish(events: readonly CloudEvent[]): Promise<void> {
    const pending = this.#bus.publish(events);
    // The publish may still settle after the timeout: it must not become an unhandled rejection.
    pending.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `the bus did not acknowledge ${events.length} event(s) within ${this.#publishTimeoutMs} ms`)),
        this.#publishTimeoutMs,
      );
    });
    try {
      await Promise.race([pending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

// Unknown errors count as passing trouble: the whole batch waits and retries.
function retryable(error: unknown): boolean {
  return !(error instanceof FlotillaError) || error.retryable;
}

function compareBigint(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `outbox relay: ${name} must be a positive number, got ${value}`);
  }
  return value;
}
