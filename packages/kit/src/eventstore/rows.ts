import { kitErrors } from "../errors/index.ts";
import type { EventMetadata, RecordedEvent } from "./types.ts";

/** A flotilla_events row as both drivers return it (int8 as a string, bytea as Buffer or Uint8Array). */
export interface EventRow extends Record<string, unknown> {
  global_position: string | number;
  stream_id: string;
  version: number;
  event_id: string;
  type: string;
  data: Uint8Array;
  metadata: EventMetadata | null;
  recorded_at: Date;
}

export const EVENT_COLUMNS = "global_position, stream_id, version, event_id, type, data, metadata, recorded_at";

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    globalPosition: toPosition(row.global_position),
    streamId: row.stream_id,
    version: row.version,
    id: row.event_id,
    type: row.type,
    data: plainBytes(row.data),
    metadata: row.metadata ?? {},
    recordedAt: row.recorded_at,
  };
}

/**
 * Positions are int8 in the database and numbers here: exact up to 2^53,
 * which a store appending a million events a second reaches in 285 years.
 * Past that this throws rather than silently rounding.
 */
export function toPosition(value: string | number | bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw kitErrors.create("KIT_ERR_INTERNAL", `global position ${String(value)} is beyond 2^53`);
  return n;
}

// `postgres` returns a Buffer, PGlite a Uint8Array: callers get the same
// type from both (deepEqual tells them apart), and a copy they may keep.
function plainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
