// Sample events so that a newcomer running `flotilla dev` sees data at once.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";
import type { Database } from "@flotilla/kit";
import type { EventStore } from "@flotilla/kit/internal";
import { publishEvent } from "./publishing.ts";
import * as store from "./store.ts";

const { EventCategory } = catalogV1;
const DAY = 86_400_000;

const samples = [
  { eventId: "evt_seed_jazz_lisbon", title: "Jazz on the River", category: EventCategory.CONCERT, venue: "Cais do Sodré Stage", city: "Lisbon", inDays: 12, capacity: 800, priceMinor: 3500n },
  { eventId: "evt_seed_derby_madrid", title: "City Derby", category: EventCategory.SPORT, venue: "Estadio Central", city: "Madrid", inDays: 20, capacity: 60000, priceMinor: 4500n },
  { eventId: "evt_seed_hamlet_london", title: "Hamlet", category: EventCategory.THEATRE, venue: "Old Vic Hall", city: "London", inDays: 30, capacity: 1000, priceMinor: 5500n },
  { eventId: "evt_seed_standup_berlin", title: "Late Night Stand-up", category: EventCategory.COMEDY, venue: "Kreuzberg Keller", city: "Berlin", inDays: 7, capacity: 150, priceMinor: 1800n },
  { eventId: "evt_seed_summer_fest", title: "Summer Sound Festival", category: EventCategory.FESTIVAL, venue: "Parque Norte", city: "Lisbon", inDays: 60, capacity: 20000, priceMinor: 9900n },
] as const;

/** Inserts the samples once; runs at every start of `flotilla dev`. */
export async function seedCatalog(db: Database, es: EventStore, now = new Date()): Promise<void> {
  if ((await store.countEvents(db)) > 0) return;
    for (const s of samples) {
      await publishEvent(
        es,
        create(catalogV1.EventSchema, {
          eventId: s.eventId,
          title: s.title,
          description: `${s.title} at ${s.venue}.`,
          category: s.category,
          venue: s.venue,
          city: s.city,
          startsAt: timestampFromDate(new Date(Math.floor(now.getTime() / DAY) * DAY + s.inDays * DAY + 19 * 3_600_000)),
          capacity: s.capacity,
          priceMinor: s.priceMinor,
          currency: "EUR",
        }),
      );
    }
}
