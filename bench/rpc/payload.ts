// The one call every contender makes: GetEvent for a fixed id, answered with
// a small event (about 90 bytes of protobuf), so the contenders differ only in
// how the bytes travel.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";

export const EVENT_ID = "evt-000042";

export function eventFor(eventId: string): MessageInitShape<typeof catalogV1.EventSchema> {
  return {
    eventId,
    title: "Jazz night at the docks",
    category: catalogV1.EventCategory.CONCERT,
    venue: "Le Sucre",
    city: "Lyon",
    startsAt: timestampFromMs(1_800_000_000_000),
    capacity: 300,
    priceMinor: 2500n,
    currency: "EUR",
  };
}

/** The same answer as a plain object, for Moleculer (JSON over NATS). */
export function eventJson(eventId: string) {
  return { eventId, title: "Jazz night at the docks", category: 1, venue: "Le Sucre", city: "Lyon", startsAt: "2027-01-15T08:00:00Z", capacity: 300, priceMinor: "2500", currency: "EUR" };
}

export const requestBytes = toBinary(catalogV1.GetEventRequestSchema, create(catalogV1.GetEventRequestSchema, { eventId: EVENT_ID }));
export const responseBytes = toBinary(catalogV1.GetEventResponseSchema, create(catalogV1.GetEventResponseSchema, { event: eventFor(EVENT_ID) }));
