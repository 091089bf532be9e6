// Persistence of events: SQL only, no business rules.
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";
import type { Queryable } from "@flotilla/kit";
import type { Cursor } from "./domain.ts";

type Event = catalogV1.Event;

interface EventRow extends Record<string, unknown> {
  event_id: string;
  title: string;
  description: string;
  category: number;
  venue: string;
  city: string;
  starts_at: Date | string;
  capacity: number;
  price_minor: string | number | bigint;
  currency: string;
  created_at: Date | string;
}

const COLUMNS = "event_id, title, description, category, venue, city, starts_at, capacity, price_minor::text AS price_minor, currency, created_at";

export async function insertEvent(db: Queryable, e: Event): Promise<Event> {
  const [row] = await db.query<EventRow>(
    `INSERT INTO events (event_id, title, description, category, venue, city, starts_at, capacity, price_minor, currency)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [e.eventId, e.title, e.description, e.category, e.venue, e.city, e.startsAt ? timestampDate(e.startsAt).toISOString() : null, e.capacity, e.priceMinor.toString(), e.currency],
  );
  return toEvent(row!);
}

export async function findEvent(db: Queryable, eventId: string): Promise<Event | undefined> {
  const [row] = await db.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE event_id = $1`, [eventId]);
  return row ? toEvent(row) : undefined;
}

/** One page in start order; fetches one extra row to know whether another page follows. */
export async function listEvents(db: Queryable, q: { city: string; after: Cursor | undefined; limit: number }): Promise<{ events: Event[]; more: boolean }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.city !== "") {
    params.push(q.city.toLowerCase());
    where.push(`lower(city) = $${params.length}`);
  }
  if (q.after) {
    params.push(q.after.startsAt, q.after.eventId);
    where.push(`(starts_at, event_id) > ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  params.push(q.limit + 1);
  const rows = await db.query<EventRow>(
    `SELECT ${COLUMNS} FROM events ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY starts_at, event_id LIMIT $${params.length}`,
    params,
  );
  return { events: rows.slice(0, q.limit).map(toEvent), more: rows.length > q.limit };
}

export async function countEvents(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: number | string }>("SELECT count(*)::int AS n FROM events");
  return Number(row?.n ?? 0);
}

function toEvent(r: EventRow): Event {
  return create(catalogV1.EventSchema, {
    eventId: r.event_id,
    title: r.title,
    description: r.description,
    category: r.category,
    venue: r.venue,
    city: r.city,
    startsAt: timestampFromDate(new Date(r.starts_at)),
    capacity: r.capacity,
    priceMinor: BigInt(r.price_minor),
    currency: r.currency.trim(),
    createdAt: timestampFromDate(new Date(r.created_at)),
  });
}
