// The event every contender carries: a catalog EventPublished of realistic
// size, as the catalog service would publish it.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogEventsV1, catalogV1 } from "@flotilla/contracts";
import { type CloudEvent, createEvent } from "@flotilla/kit/internal";

export const SOURCE = "/flotilla/bench";

const message = create(catalogEventsV1.EventPublishedSchema, {
  event: create(catalogV1.EventSchema, {
    eventId: "evt-0000000000",
    title: "Jazz night at the harbour",
    description: "Three sets, one long evening by the water; doors open an hour before.",
    category: catalogV1.EventCategory.CONCERT,
    venue: "Harbour Hall",
    city: "Lisbon",
    startsAt: timestampFromDate(new Date("2027-06-01T20:00:00Z")),
    capacity: 400,
    priceMinor: 2500n,
    currency: "EUR",
    createdAt: timestampFromDate(new Date("2026-11-25T12:00:00Z")),
  }),
});

/** A fresh CloudEvent (new id, now) about `subject`. */
export function benchEvent(subject: string): CloudEvent {
  return createEvent(catalogEventsV1.EventPublishedSchema, message, { source: SOURCE, subject });
}

/** Bytes on the wire of one event published by the bus: data plus its ce-* headers, roughly. */
export function wireSize(event: CloudEvent): number {
  const attributes = [event.specversion, event.id, event.source, event.type, event.subject ?? "", event.time, event.datacontenttype, event.dataschema];
  return event.data.length + attributes.reduce((n, v) => n + v.length + 16, 0) + 40;
}
