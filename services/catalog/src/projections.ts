// Read models built from the catalog's event store (CQRS). Each change and the
// projection's checkpoint commit together; `rebuild` replays from zero.
import { fromBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { catalogEventsV1 } from "@flotilla/contracts";
import type { Queryable } from "@flotilla/kit";
import { defineProjection } from "@flotilla/kit/internal";
import { EVENT_PUBLISHED } from "./publishing.ts";

/** Events and seats per city and day (UTC). */
export const cityCalendar = defineProjection({
  name: "city-calendar",
  types: [EVENT_PUBLISHED],
  async handle(recorded, tx) {
    const { event } = fromBinary(catalogEventsV1.EventPublishedSchema, recorded.data);
    if (!event?.startsAt) return;
    await tx.query(
      `INSERT INTO city_calendar (city_key, day, events, seats) VALUES (lower($1), $2::date, 1, $3)
       ON CONFLICT (city_key, day) DO UPDATE SET events = city_calendar.events + 1, seats = city_calendar.seats + EXCLUDED.seats`,
      [event.city, timestampDate(event.startsAt).toISOString().slice(0, 10), event.capacity],
    );
  },
  async reset(tx) {
    await tx.query("DELETE FROM city_calendar");
  },
});

export async function readCityCalendar(db: Queryable, city: string): Promise<{ day: string; events: number; seats: bigint }[]> {
  const rows = await db.query<{ day: string; events: number; seats: string }>(
    "SELECT day::text AS day, events, seats::text AS seats FROM city_calendar WHERE city_key = lower($1) ORDER BY day",
    [city],
  );
  return rows.map((r) => ({ day: r.day, events: Number(r.events), seats: BigInt(r.seats) }));
}
