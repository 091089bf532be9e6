import type { CloudEvent } from "../bus/types.ts";
import type { Queryable } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import { describeError } from "../outbox/describe-error.ts";
import { EVENT_COLUMNS, type EventRow, eventParams, rowToEvent, valuesPlaceholders } from "../outbox/event-row.ts";

/** An event a consumer gave up on after its last attempt, kept for inspection and replay. */
export interface DeadLetter {
  /** The dead letter's own id (a decimal string), for replayDeadLetters(). */
  id: string;
  consumer: string;
  event: CloudEvent;
  /** The last error the handler threw. */
  error: string;
  /** Deliveries and replays tried so far. */
  attempts: number;
  failedAt: Date;
  /** Set while a replay is waiting for the consumer to pick it up. */
  replayRequestedAt: Date | undefined;
}

export interface DeadLetterRow extends EventRow {
  dead_letter_id: string;
  consumer: string;
  error: string;
  attempts: number;
  failed_at: Date;
  replay_requested_at: Date | null;
}

export const DEAD_LETTER_SELECT = `SELECT id AS dead_letter_id, consumer, event_id AS id, ${EVENT_COLUMNS.slice(1).join(", ")}, error, attempts, failed_at, replay_requested_at FROM flotilla_dead_letters`;

const MAX_ERROR_LENGTH = 4000;

/** The dead letters of one consumer, or of all, oldest first. */
export async function listDeadLetters(db: Queryable, consumer?: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
  const limit = options.limit ?? 1000;
  const rows =
    consumer === undefined
      ? await db.query<DeadLetterRow>(`${DEAD_LETTER_SELECT} ORDER BY flotilla_dead_letters.id LIMIT $1`, [limit])
      : await db.query<DeadLetterRow>(`${DEAD_LETTER_SELECT} WHERE consumer = $1 ORDER BY flotilla_dead_letters.id LIMIT $2`, [consumer, limit]);
  return rows.map(toDeadLetter);
}

/**
 * Asks for dead letters to be handled again; returns the ids found. The
 * request is a committed row, so it survives restarts: the consumer that
 * dead-lettered the event picks it up (consume() looks every `replayPollMs`)
 * and runs its handler in one transaction with the inbox row and the removal
 * of the dead letter. A replay that fails again goes back to being a dead
 * letter with the new error.
 *
 * The replay does not go back through the broker: the broker would drop a
 * re-publish of the same event id inside its duplicate window, and it would
 * redeliver to every consumer of the type, not just the one that failed.
 */
export async function replayDeadLetters(db: Queryable, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.query<{ id: string }>(
    "UPDATE flotilla_dead_letters SET replay_requested_at = now() WHERE id = ANY($1::bigint[]) RETURNING id",
    [ids.map(decimal)],
  );
  return rows.map((r) => r.id).sort((a, b) => Number(BigInt(a) - BigInt(b)));
}

/** Stores (or refreshes) a consumer's dead letter for an event. */
export async function recordDeadLetter(db: Queryable, consumer: string, event: CloudEvent, error: unknown, attempts: number): Promise<void> {
  const columns = ["consumer", "event_id", ...EVENT_COLUMNS.slice(1), "error", "attempts"];
  await db.query(
    `INSERT INTO flotilla_dead_letters (${columns.join(", ")}) VALUES ${valuesPlaceholders(1, columns.length)}
     ON CONFLICT (consumer, event_id) DO UPDATE
     SET error = EXCLUDED.error, attempts = EXCLUDED.attempts, failed_at = now(), replay_requested_at = NULL`,
    [consumer, ...eventParams(event), describeError(error).slice(0, MAX_ERROR_LENGTH), attempts],
  );
}

export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.dead_letter_id,
    consumer: row.consumer,
    event: rowToEvent(row),
    error: row.error,
    attempts: row.attempts,
    failedAt: row.failed_at,
    replayRequestedAt: row.replay_requested_at ?? undefined,
  };
}

function decimal(id: string): string {
  if (!/^[0-9]{1,19}$/.test(id)) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `dead letter id ${JSON.stringify(id)} is not a decimal id`);
  return id;
}
