// The catalog contract's handlers: decode intent, apply rules, persist.
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";
import type { Database, ServiceHandlers } from "@flotilla/kit";
import type { EventStore } from "@flotilla/kit/internal";
import { checkStartsInFuture, decodePageToken, encodePageToken, newEventId, pageSize } from "./domain.ts";
import { catalogErrors } from "./errors.ts";
import { readCityCalendar } from "./projections.ts";
import { publishEvent } from "./publishing.ts";
import * as store from "./store.ts";

export function catalogHandlers(db: Database, es: EventStore, now: () => Date = () => new Date()): ServiceHandlers<typeof catalogV1.CatalogService> {
  return {
    async listEvents(req) {
      const limit = pageSize(req.pageSize);
      const { events, more } = await store.listEvents(db, { city: req.city, after: decodePageToken(req.pageToken), limit });
      const last = events.at(-1);
      const nextPageToken = more && last?.startsAt ? encodePageToken({ startsAt: timestampDate(last.startsAt).toISOString(), eventId: last.eventId }) : "";
      return { events, nextPageToken };
    },

    async getEvent(req) {
      const event = await store.findEvent(db, req.eventId);
      if (!event) throw catalogErrors.create("CATALOG_ERR_EVENT_NOT_FOUND", `no event with id ${req.eventId}`);
      return { event };
    },

    async getCityCalendar(req) {
      return { city: req.city, days: await readCityCalendar(db, req.city) };
    },

    async createEvent(req, ctx) {
      // protovalidate has already checked the fields; starts_at is required.
      const startsAt = timestampDate(req.startsAt!);
      checkStartsInFuture(startsAt, now());
      const eventId = newEventId();
      await publishEvent(
        es,
        create(catalogV1.EventSchema, {
          eventId,
          title: req.title.trim(),
          description: req.description,
          category: req.category,
          venue: req.venue.trim(),
          city: req.city.trim(),
          startsAt: timestampFromDate(startsAt),
          capacity: req.capacity,
          priceMinor: req.priceMinor,
          currency: req.currency === "" ? "EUR" : req.currency,
        }),
        { traceparent: ctx.metadata.traceparent },
      );
      return { event: await store.findEvent(db, eventId) };
    },
  };
}
