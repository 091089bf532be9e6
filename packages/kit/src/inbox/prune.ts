import type { Queryable } from "../db/types.ts";

/** How long inbox rows are kept by default: well beyond any redelivery. */
export const INBOX_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

const BATCH = 10_000;

/**
 * Deletes inbox rows older than `olderThan` (default: now − 7 days), in
 * batches so that no statement holds many locks; returns how many went.
 * A redelivery of an event whose row is gone would be applied again: keep
 * the retention longer than the broker keeps events (its stream max age).
 *
 *   setInterval(() => void pruneInbox(db), 60 * 60 * 1000).unref();
 */
export async function pruneInbox(db: Queryable, olderThan: Date = new Date(Date.now() - INBOX_RETENTION_MS)): Promise<number> {
  let total = 0;
  for (;;) {
    const [row] = await db.query<{ n: string }>(
      `WITH gone AS (
         DELETE FROM flotilla_inbox WHERE (consumer, event_id) IN (
           SELECT consumer, event_id FROM flotilla_inbox WHERE processed_at < $1 LIMIT $2)
         RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [olderThan, BATCH],
    );
    const n = Number(row?.n ?? 0);
    total += n;
    if (n < BATCH) return total;
  }
}
