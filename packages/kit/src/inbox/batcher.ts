import type { CloudEvent } from "../bus/types.ts";
import type { Database, Queryable } from "../db/types.ts";
import type { InboxBatchHandler, InboxHandler } from "./consume.ts";

export interface InboxBatcherOptions {
  db: Database;
  consumer: string;
  handler: InboxHandler;
  /**
   * When given, it applies the new events of a batch in one call instead of
   * `handler` once per event (e.g. one multi-row INSERT for them all: a
   * statement per event costs a round trip each). `handler` still serves
   * events applied alone.
   */
  batchHandler?: InboxBatchHandler | undefined;
  /** Most events applied in one transaction. */
  maxBatch: number;
  /** Inbox transactions running at once (each holds a pooled connection). */
  maxTransactions: number;
}

interface Waiting {
  event: CloudEvent;
  /** A redelivery after the event was dead-lettered (its ack was lost): a success removes the dead letter. */
  clearDeadLetter: boolean;
  /** Its batch handler threw with others in the batch: it goes again in a batch of its own, to find which one fails. */
  alone: boolean;
  resolve: (applied: boolean) => void;
  reject: (error: unknown) => void;
}

// One statement for the whole batch; the ids come back for the rows that were
// not there yet. Sorted, so two batches holding the same ids (redeliveries)
// lock them in one order and cannot deadlock on the inbox.
const CLAIM = `INSERT INTO flotilla_inbox (consumer, event_id)
  SELECT $1, id FROM unnest($2::text[]) AS ids(id) ORDER BY id
  ON CONFLICT DO NOTHING RETURNING event_id`;
const CLEAR_DEAD_LETTER = "DELETE FROM flotilla_dead_letters WHERE consumer = $1 AND event_id = $2";

/**
 * Group commit for the inbox: deliveries that arrive while others are being
 * applied are applied together, in one transaction per batch, instead of one
 * transaction per event (a transaction costs BEGIN, COMMIT and a WAL flush,
 * which bounded a consumer to a few hundred events a second).
 *
 * What stays as it was for each event: its inbox row and its handler's writes
 * commit together or not at all; a duplicate (its row already there, or a
 * second copy in the same batch) is skipped without running the handler; each
 * caller of apply() learns the outcome of its own event. Handlers run one after
 * the other, in arrival order, on the batch's transaction, so a handler sees
 * the writes of those before it exactly as if they had committed just before.
 *
 * A handler that throws rolls the batch back. Only its event fails (its caller
 * gets the error, and the bus redelivers it with backoff); the others go back
 * to the front of the queue and are applied again without it, so a poison
 * event costs its neighbours one retry and never an attempt. A failure of the
 * database itself (the claim, the commit) fails every event of the batch.
 */
export class InboxBatcher {
  readonly #options: InboxBatcherOptions;
  #queue: Waiting[] = [];
  #running = 0;
  #scheduled = false;

  constructor(options: InboxBatcherOptions) {
    this.#options = options;
  }

  /** Applies one event through the inbox; resolves false for a duplicate (handler not run). */
  apply(event: CloudEvent, options: { clearDeadLetter?: boolean } = {}): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, clearDeadLetter: options.clearDeadLetter ?? false, alone: false, resolve, reject });
      this.#schedule();
    });
  }

  // Waits for the rest of the current turn of the event loop, so that a
  // pull's worth of messages, handed over one by one, lands in one batch.
  #schedule(): void {
    if (this.#scheduled || this.#running >= this.#options.maxTransactions || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#startBatches();
    });
  }

  #startBatches(): void {
    while (this.#running < this.#options.maxTransactions && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#takeable());
      this.#running++;
      void this.#run(batch).finally(() => {
        this.#running--;
        this.#schedule();
      });
    }
  }

  // How many of the queue's first events go in the next batch: up to
  // maxBatch, but an event marked `alone` goes in a batch of one.
  #takeable(): number {
    const limit = Math.min(this.#options.maxBatch, this.#queue.length);
    if (this.#queue[0]?.alone === true) return 1;
    let n = 0;
    while (n < limit && this.#queue[n]?.alone !== true) n++;
    return n;
  }

  async #run(batch: Waiting[]): Promise<void> {
    if (this.#options.batchHandler !== undefined && batch.length > 1) return this.#runTogether(batch, this.#options.batchHandler);
    const { db, consumer, handler } = this.#options;
    let failed: { index: number; error: unknown } | undefined;
    let applied: boolean[];
    try {
      applied = await db.transaction(async (tx) => {
        failed = undefined;
        const fresh = await claim(tx, consumer, batch);
        const results: boolean[] = [];
        for (const [index, waiting] of batch.entries()) {
          // delete(): a second copy of the event in this batch is a duplicate.
          if (!fresh.delete(waiting.event.id)) {
            results.push(false);
            continue;
          }
          try {
            await handler(waiting.event, tx);
            if (waiting.clearDeadLetter) await tx.query(CLEAR_DEAD_LETTER, [consumer, waiting.event.id]);
          } catch (error) {
            failed = { index, error };
            throw error;
          }
          results.push(true);
        }
        return results;
      });
    } catch (error) {
      if (failed === undefined) {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
      const { index, error: handlerError } = failed;
      batch[index]?.reject(handlerError);
      const others = batch.filter((_, i) => i !== index);
      this.#queue.unshift(...others);
      return;
    }
    for (const [index, waiting] of batch.entries()) waiting.resolve(applied[index] ?? false);
  }

  // One call of the batch handler for the batch's new events. When it throws
  // and there was more than one, nobody knows which failed: all go back to
  // the front of the queue to be applied one by one (a poison event costs its
  // neighbours one retry, never an attempt, as in #run).
  async #runTogether(batch: Waiting[], batchHandler: InboxBatchHandler): Promise<void> {
    const { db, consumer } = this.#options;
    let handlerFailed: { error: unknown } | undefined;
    let applied: boolean[];
    try {
      applied = await db.transaction(async (tx) => {
        handlerFailed = undefined;
        const fresh = await claim(tx, consumer, batch);
        const results = batch.map((waiting) => fresh.delete(waiting.event.id));
        const events = batch.filter((_, i) => results[i]);
        if (events.length === 0) return results;
        try {
          await batchHandler(
            events.map((w) => w.event),
            tx,
          );
          for (const waiting of events) if (waiting.clearDeadLetter) await tx.query(CLEAR_DEAD_LETTER, [consumer, waiting.event.id]);
        } catch (error) {
          handlerFailed = { error };
          throw error;
        }
        return results;
      });
    } catch (error) {
      if (handlerFailed === undefined) {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
      for (const waiting of batch) waiting.alone = true;
      this.#queue.unshift(...batch);
      return;
    }
    for (const [index, waiting] of batch.entries()) waiting.resolve(applied[index] ?? false);
  }
}

async function claim(tx: Queryable, consumer: string, batch: readonly Waiting[]): Promise<Set<string>> {
  const rows = await tx.query<{ event_id: string }>(CLAIM, [consumer, batch.map((w) => w.event.id)]);
  return new Set(rows.map((r) => r.event_id));
}
