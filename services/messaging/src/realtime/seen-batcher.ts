// Messages acknowledged on a socket leave as messaging.message_seen.v1 (so
// notifications does not push them), batched: one outbox transaction per tick
// rather than one per acknowledgement.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { messagingEventsV1 } from "@flotilla/contracts";
import type { Database, Logger, ServiceContext } from "@flotilla/kit";
import { createEvent } from "@flotilla/kit/internal";

const MAX_QUEUED = 50_000;

export class SeenBatcher {
  readonly #db: Database;
  readonly #outbox: ServiceContext["outbox"];
  readonly #source: string;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #queued = new Map<string, { conversationId: string; messageId: string; userId: string; at: Date }>();
  #flushing: Promise<void> | undefined;

  constructor(options: { db: Database; outbox: ServiceContext["outbox"]; source: string; log: Logger; flushMs?: number }) {
    this.#db = options.db;
    this.#outbox = options.outbox;
    this.#source = options.source;
    this.#log = options.log;
    this.#timer = setInterval(() => void this.flush(), options.flushMs ?? 100);
    this.#timer.unref();
  }

  add(conversationId: string, messageId: string, userId: string): void {
    // An extra push is the only cost of dropping one: the bound keeps a stuck database from eating memory.
    if (this.#queued.size >= MAX_QUEUED) return;
    this.#queued.set(`${messageId}\n${userId}`, { conversationId, messageId, userId, at: new Date() });
  }

  /** Writes what is queued; a failed batch is put back for the next tick. */
  flush(): Promise<void> {
    if (this.#flushing || this.#queued.size === 0) return this.#flushing ?? Promise.resolve();
    const batch = this.#queued;
    this.#queued = new Map();
    const events = [...batch.values()].map((s) =>
      createEvent(
        messagingEventsV1.MessageSeenSchema,
        create(messagingEventsV1.MessageSeenSchema, {
          conversationId: s.conversationId,
          messageId: s.messageId,
          userId: s.userId,
          via: messagingEventsV1.SeenVia.SOCKET,
          seenAt: timestampFromDate(s.at),
        }),
        { source: this.#source, subject: s.conversationId },
      ),
    );
    this.#flushing = this.#db
      .transaction((tx) => this.#outbox.enqueue(tx, events))
      .catch((error: unknown) => {
        this.#log.warn({ err: error, count: batch.size }, "message_seen batch failed; retrying");
        for (const [k, v] of batch) if (!this.#queued.has(k)) this.#queued.set(k, v);
      })
      .finally(() => {
        this.#flushing = undefined;
      });
    return this.#flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }
}
