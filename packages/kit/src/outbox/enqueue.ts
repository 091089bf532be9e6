import { checkCloudEvent } from "../bus/event-checks.ts";
import type { CloudEvent } from "../bus/types.ts";
import type { Queryable } from "../db/types.ts";
import { EVENT_COLUMNS, eventParams, valuesPlaceholders } from "./event-row.ts";

// PostgreSQL takes at most 65535 parameters per statement.
const ROWS_PER_INSERT = 1000;
const COLUMNS = EVENT_COLUMNS.join(", ");
// The statement text for n rows, built once per n: the same text each time
// also lets the client reuse its prepared statement.
const statements = new Map<number, string>();

function insertStatement(rows: number): string {
  let text = statements.get(rows);
  if (text === undefined) {
    text = `INSERT INTO flotilla_outbox (${COLUMNS}) VALUES ${valuesPlaceholders(rows, EVENT_COLUMNS.length)}`;
    statements.set(rows, text);
  }
  return text;
}

/**
 * Writes events to the outbox inside the caller's transaction, so that they
 * exist exactly when the state change that produced them does. The relay
 * publishes them after the commit; call `relay.nudge()` then for low latency.
 *
 *   await db.transaction(async (tx) => {
 *     await tx.query("UPDATE bookings SET state = 'confirmed' WHERE id = $1", [id]);
 *     await enqueue(tx, [createEvent(...)]);
 *   });
 *   relay.nudge();
 *
 * An event the bus could not carry (no id, a bad type, …) is refused here,
 * failing the caller's transaction, rather than sitting in the outbox for
 * ever. An event id already waiting in the outbox fails the statement too:
 * ids must be unique, and consumers dedupe on them.
 */
export async function enqueue(tx: Queryable, events: readonly CloudEvent[]): Promise<void> {
  for (const event of events) checkCloudEvent(event);
  for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
    const chunk = events.slice(i, i + ROWS_PER_INSERT);
    await tx.query(insertStatement(chunk.length), chunk.flatMap(eventParams));
  }
}
