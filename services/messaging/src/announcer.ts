// Publishes messaging.members_changed.v1 for conversations whose members were
// not announced at their current version: every conversation stored before
// the event existed (an upgrade), and any membership change whose transaction
// bumped members_version without announcing it. A conversation created now is
// announced in its creating transaction (createConversation), so this finds
// nothing in the normal course: it is a backfill and a safety net.
//
// Each batch locks its rows with SKIP LOCKED, so replicas share the work, and
// writes the events and the announced version in one transaction: a crash
// leaves either both or neither, and the event is published at least once.
import type { Database, Logger, ServiceContext, ServiceCounter } from "@flotilla/kit";
import { membersChangedEvent } from "./conversations.ts";
import * as store from "./store.ts";

const BATCH = 100;

export interface AnnouncerOptions {
  db: Database;
  outbox: ServiceContext["outbox"];
  source: string;
  log: Logger;
  announced?: ServiceCounter;
  /** Between looks for unannounced conversations. @default 60 000 */
  intervalMs?: number;
  now?: () => Date;
}

export class MembersAnnouncer {
  readonly #options: AnnouncerOptions;
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AnnouncerOptions) {
    this.#options = options;
  }

  /** Announces at once, then every `intervalMs`. */
  start(): void {
    const tick = () => {
      this.#running = this.announceAll()
        .then(
          () => undefined,
          (error: unknown) => this.#options.log.warn({ err: error }, "cannot announce conversation members; will retry"),
        )
        .finally(() => {
          if (!this.#stopping.signal.aborted) this.#timer = setTimeout(tick, this.#options.intervalMs ?? 60_000).unref();
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Announces every conversation that needs it, batch by batch; answers how many. */
  async announceAll(): Promise<number> {
    const { db, outbox, source } = this.#options;
    const now = this.#options.now ?? (() => new Date());
    let total = 0;
    while (!this.#stopping.signal.aborted) {
      const done = await db.transaction(async (tx) => {
        const batch = await store.lockUnannounced(tx, BATCH);
        if (batch.length === 0) return 0;
        await outbox.enqueue(
          tx,
          batch.map((c) => membersChangedEvent(source, c, now())),
        );
        for (const c of batch) await store.markAnnounced(tx, c.conversationId, c.membersVersion);
        return batch.length;
      });
      total += done;
      if (done < BATCH) break;
    }
    if (total > 0) this.#options.announced?.inc(total);
    if (total > 0) this.#options.log.info({ conversations: total }, "announced conversation members");
    return total;
  }
}
