import type { Queryable } from "../db/types.ts";
import { wrongExpectedVersion } from "./append-errors.ts";
import { toJsonText } from "./checks.ts";
import { toPosition } from "./rows.ts";
import type { ExpectedVersion, NewEvent, RecordedEvent } from "./types.ts";

// Rows per INSERT: 5 parameters each, well under PostgreSQL's 65,535.
const CHUNK = 1000;

interface InsertedRow extends Record<string, unknown> {
  global_position: string | number;
  version: number;
  recorded_at: Date;
}

export type EventWithId = NewEvent & { readonly id: string };

/** The stream's version: the version of its last event, 0 when it has none. */
export async function streamVersion(tx: Queryable, streamId: string): Promise<number> {
  const rows = await tx.query<{ v: number | null }>("SELECT max(version) AS v FROM flotilla_events WHERE stream_id = $1", [streamId]);
  return rows[0]?.v ?? 0;
}

/**
 * Takes the store's append lock, then inserts the events if the stream is at
 * the expected version, numbering them from its current version. The lock
 * and the first INSERT are sent together: PostgreSQL runs the INSERT once
 * the lock is granted, and its snapshot, taken then, sees the previous
 * holder's commit. So the lock is held for one statement and the commit,
 * not for a round trip to the application in between.
 */
export async function insertUnderLock(
  tx: Queryable,
  lockKey: string,
  streamId: string,
  expected: ExpectedVersion,
  events: readonly EventWithId[],
): Promise<RecordedEvent[]> {
  const want = expected === "any" ? null : expected === "no_stream" ? 0 : expected;
  const first = events.slice(0, CHUNK);
  const [, firstRows] = await Promise.all([tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey]), insertChunk(tx, streamId, want, first)]);
  if (firstRows.length === 0) throw wrongExpectedVersion(streamId, expected, await streamVersion(tx, streamId));
  const recorded = toRecorded(streamId, first, firstRows);
  for (let start = CHUNK; start < events.length; start += CHUNK) {
    const chunk = events.slice(start, start + CHUNK);
    // Under the lock nobody else appends: the stream is where the last chunk left it.
    const rows = await insertChunk(tx, streamId, recorded.at(-1)!.version, chunk);
    recorded.push(...toRecorded(streamId, chunk, rows));
  }
  return recorded;
}

// Inserts nothing (and returns no row) when the stream is not at `want`; null accepts any version.
async function insertChunk(tx: Queryable, streamId: string, want: number | null, chunk: readonly EventWithId[]): Promise<InsertedRow[]> {
  const params: unknown[] = [streamId, want];
  const values = chunk.map((event, i) => {
    const n = params.length;
    params.push(i + 1, event.id, event.type, event.data, toJsonText("metadata", event.metadata ?? {}));
    return `($${n + 1}::int, $${n + 2}::text, $${n + 3}::text, $${n + 4}::bytea, $${n + 5}::text)`;
  });
  // ORDER BY: identity values are drawn in the order rows reach the INSERT, so positions follow versions.
  return tx.query<InsertedRow>(
    `INSERT INTO flotilla_events (stream_id, version, event_id, type, data, metadata)
     SELECT $1, cur.v + e.ord, e.id, e.type, e.data, e.meta::jsonb
     FROM (SELECT coalesce(max(version), 0) AS v FROM flotilla_events WHERE stream_id = $1) AS cur,
          (VALUES ${values.join(", ")}) AS e(ord, id, type, data, meta)
     WHERE $2::int IS NULL OR cur.v = $2::int
     ORDER BY e.ord
     RETURNING global_position, version, recorded_at`,
    params,
  );
}

function toRecorded(streamId: string, chunk: readonly EventWithId[], rows: readonly InsertedRow[]): RecordedEvent[] {
  // RETURNING order is not promised by SQL: versions put rows back in event order.
  const sorted = [...rows].sort((a, b) => a.version - b.version);
  return chunk.map((event, i) => {
    const row = sorted[i]!;
    return {
      globalPosition: toPosition(row.global_position),
      streamId,
      version: row.version,
      id: event.id,
      type: event.type,
      data: event.data,
      metadata: event.metadata ?? {},
      recordedAt: row.recorded_at,
    };
  });
}
