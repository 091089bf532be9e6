import { randomUUID } from "node:crypto";
import { advisoryKey } from "../db/sql-names.ts";
import type { Database } from "../db/types.ts";
import { fromAppendError, wrongExpectedVersion } from "./append-errors.ts";
import { type EventWithId, insertUnderLock, streamVersion } from "./append-sql.ts";
import { checkAppend, checkLimit, checkPositive, checkStreamId, toJsonText } from "./checks.ts";
import { toCloudEvent } from "./cloud-events.ts";
import { EVENT_COLUMNS, type EventRow, toRecordedEvent } from "./rows.ts";
import type {
  AppendResult,
  EventStoreOptions,
  ExpectedVersion,
  NewEvent,
  PublishHook,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
} from "./types.ts";

const DEFAULT_READ_ALL_LIMIT = 1000;

interface SnapshotRow extends Record<string, unknown> {
  version: number;
  state: unknown;
  taken_at: Date;
}

/**
 * Event streams in the service's own database, with optimistic concurrency
 * per stream and one global order for projections.
 *
 *   const store = new EventStore({ db, publish: (tx, events) => enqueue(tx, events) });
 *   const { nextVersion } = await store.append("counter-1", "no_stream", [{ type: "counter.incremented.v1", data }]);
 *   for (const e of await store.readAll({ fromPosition: checkpoint + 1, limit: 100 })) ...
 *
 * Appends are serialised per database by a transaction-scoped advisory lock.
 * That is what makes readAll safe to tail by position: identity values are
 * taken in one order and transactions may commit in another, so without the
 * lock a reader could see position 11 before 10 commits and skip 10 forever.
 * Under the lock, positions become visible in the order they are taken (the
 * lock is released only after the commit is visible). The price is that
 * appends of one service do not overlap: the lock is held from the INSERT
 * through the publish hook to the commit, so the write rate is about one
 * commit at a time, and concurrent writers gain nothing from group commit.
 * Batching events into one append is the way to write faster. The
 * alternative (an xid column filtered by `pg_snapshot_xmin`, checkpoints as
 * (xid, position) pairs) lets appends overlap, at the cost of a two-part
 * checkpoint for every reader.
 */
export class EventStore {
  readonly db: Database;
  readonly #publish: PublishHook | undefined;
  readonly #source: string;
  readonly #lockKey: string;
  readonly #listeners = new Set<() => void>();

  constructor(options: EventStoreOptions) {
    this.db = options.db;
    this.#publish = options.publish;
    this.#source = options.source ?? `/flotilla/${options.db.service}`;
    // Replicas share the database, so they share the key.
    this.#lockKey = advisoryKey(`flotilla_events:${options.db.service}`);
  }

  /**
   * Appends events to a stream if it is at `expectedVersion`, else throws
   * KIT_ERR_WRONG_EXPECTED_VERSION (retryable: reload, decide again). An
   * empty list only checks the version.
   */
  async append(streamId: string, expectedVersion: ExpectedVersion, events: readonly NewEvent[]): Promise<AppendResult> {
    checkStreamId(streamId);
    checkAppend(expectedVersion, events);
    // Ids are fixed before the transaction so that the published CloudEvents carry them.
    const withIds: EventWithId[] = events.map((e) => ({ ...e, id: e.id ?? randomUUID() }));
    let result: AppendResult;
    try {
      result = await this.db.transaction(async (tx) => {
        if (withIds.length === 0) {
          const current = await streamVersion(tx, streamId);
          if (!matches(expectedVersion, current)) throw wrongExpectedVersion(streamId, expectedVersion, current);
          return { nextVersion: current, globalPositions: [] };
        }
        const recorded = await insertUnderLock(tx, this.#lockKey, streamId, expectedVersion, withIds);
        if (this.#publish) await this.#publish(tx, recorded.map((e) => toCloudEvent(e, this.#source)));
        return { nextVersion: recorded.at(-1)!.version, globalPositions: recorded.map((e) => e.globalPosition) };
      });
    } catch (error) {
      throw fromAppendError(error, streamId, expectedVersion);
    }
    if (events.length > 0) for (const listener of this.#listeners) listener();
    return result;
  }

  /** A stream's events in version order; empty for a stream that does not exist. */
  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    checkStreamId(streamId);
    const from = options.fromVersion ?? 1;
    checkPositive("fromVersion", from);
    if (options.limit !== undefined) checkLimit(options.limit);
    const rows = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM flotilla_events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`,
      [streamId, from, options.limit ?? null],
    );
    return rows.map(toRecordedEvent);
  }

  /**
   * Every stream's events in global order from `fromPosition` (inclusive).
   * Safe to tail: a later call never returns an event below the last one an
   * earlier call returned (see the class comment).
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const from = options.fromPosition ?? 1;
    checkPositive("fromPosition", from);
    const limit = options.limit ?? DEFAULT_READ_ALL_LIMIT;
    checkLimit(limit);
    const rows = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM flotilla_events WHERE global_position >= $1 ORDER BY global_position LIMIT $2`,
      [from, limit],
    );
    return rows.map(toRecordedEvent);
  }

  /**
   * Saves a stream's state as of `version`, replacing an older snapshot (an
   * older version never replaces a newer one). `state` must be JSON-safe.
   */
  async saveSnapshot(streamId: string, version: number, state: unknown): Promise<void> {
    checkStreamId(streamId);
    checkPositive("version", version);
    await this.db.query(
      `INSERT INTO flotilla_snapshots AS s (stream_id, version, state) VALUES ($1, $2, $3::text::jsonb)
       ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, state = EXCLUDED.state, taken_at = now()
       WHERE s.version <= EXCLUDED.version`,
      [streamId, version, toJsonText("snapshot state", state)],
    );
  }

  async loadSnapshot(streamId: string): Promise<Snapshot | undefined> {
    checkStreamId(streamId);
    const rows = await this.db.query<SnapshotRow>("SELECT version, state, taken_at FROM flotilla_snapshots WHERE stream_id = $1", [streamId]);
    const row = rows[0];
    return row === undefined ? undefined : { version: row.version, state: row.state, takenAt: row.taken_at };
  }

  /**
   * Calls `listener` after each append through this instance commits, so an
   * in-process projection runner can catch up at once instead of at its next
   * poll. Returns the function that removes it.
   */
  onAppended(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function matches(expected: ExpectedVersion, current: number): boolean {
  if (expected === "any") return true;
  if (expected === "no_stream") return current === 0;
  return expected === current;
}
