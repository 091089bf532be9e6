import type { Logger } from "pino";
import type { Database } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import { describeError } from "../outbox/describe-error.ts";
import { rowToEvent } from "../outbox/event-row.ts";
import type { InboxHandler } from "./consume.ts";
import { DEAD_LETTER_SELECT, type DeadLetterRow } from "./dead-letters.ts";

/**
 * Runs the replays requested for one consumer, one dead letter per
 * transaction: the inbox row, the handler's writes and the removal of the dead
 * letter commit together. Replicas share the work (SKIP LOCKED). A replay
 * whose handler fails goes back to being a dead letter with the new error.
 * Returns how many were applied (or found already applied).
 */
export async function replayRequested(db: Database, consumer: string, handler: InboxHandler, log: Logger, signal?: AbortSignal): Promise<number> {
  let applied = 0;
  while (signal?.aborted !== true) {
    const claimed: { row?: DeadLetterRow } = {};
    try {
      const found = await db.transaction(async (tx) => {
        const [row] = await tx.query<DeadLetterRow>(
          `${DEAD_LETTER_SELECT} WHERE consumer = $1 AND replay_requested_at IS NOT NULL ORDER BY flotilla_dead_letters.id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [consumer],
        );
        if (row === undefined) return false;
        claimed.row = row;
        const fresh = await tx.query("INSERT INTO flotilla_inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id", [
          consumer,
          row.id,
        ]);
        // Already applied (a late redelivery succeeded meanwhile): only the dead letter goes.
        if (fresh.length > 0) await handler(rowToEvent(row), tx);
        await tx.query("DELETE FROM flotilla_dead_letters WHERE id = $1", [row.dead_letter_id]);
        return true;
      });
      if (!found) return applied;
      applied++;
      log.info({ consumer, eventId: claimed.row?.id }, "dead letter replayed");
    } catch (error) {
      const row = claimed.row;
      // Nothing claimed, or the database itself failed: the request stays, and is tried again.
      if (row === undefined || kitErrors.is(error, "KIT_ERR_DB_UNAVAILABLE")) throw error;
      await db.query(
        "UPDATE flotilla_dead_letters SET attempts = attempts + 1, error = $2, failed_at = now(), replay_requested_at = NULL WHERE id = $1",
        [row.dead_letter_id, describeError(error).slice(0, 4000)],
      );
      log.error({ consumer, eventId: row.id, err: error }, "dead letter replay failed; it is a dead letter again");
    }
  }
  return applied;
}
