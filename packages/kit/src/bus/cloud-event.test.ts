import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogEventsV1, catalogV1 } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { createEvent, decodeEvent, eventTypeOf } from "./cloud-event.ts";
import { eventId } from "./event-id.ts";

const { EventPublishedSchema } = catalogEventsV1;
const message = create(EventPublishedSchema, { event: { eventId: "evt-42", title: "Jazz à Vienne", capacity: 900, priceMinor: 4500n, currency: "EUR" } });
const isCode = (code: string) => (e: unknown) => e instanceof FlotillaError && e.code === code;

test("createEvent takes the type from the message's event_type option and the data from toBinary", () => {
  const event = createEvent(EventPublishedSchema, message, { source: "/flotilla/catalog", subject: "evt-42", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
  assert.equal(event.type, "catalog.event_published.v1");
  assert.equal(event.dataschema, "flotilla.catalog.v1.EventPublished");
  assert.equal(event.specversion, "1.0");
  assert.equal(event.datacontenttype, "application/protobuf");
  assert.equal(event.source, "/flotilla/catalog");
  assert.equal(event.subject, "evt-42");
  assert.ok(event.traceparent?.startsWith("00-"));
  assert.equal("tracestate" in event, false);
  assert.ok(Math.abs(Date.parse(event.time) - Date.now()) < 5000);
  assert.match(event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(decodeEvent(EventPublishedSchema, event).event?.title, "Jazz à Vienne");
});

test("createEvent keeps a given id and time", () => {
  const event = createEvent(EventPublishedSchema, message, { source: "/s", id: "fixed", time: new Date("2030-01-02T03:04:05.678Z") });
  assert.equal(event.id, "fixed");
  assert.equal(event.time, "2030-01-02T03:04:05.678Z");
  assert.equal(createEvent(EventPublishedSchema, message, { source: "/s", time: "2030-01-02T03:04:05Z" }).time, "2030-01-02T03:04:05Z");
});

test("a message without the event_type option is not an event", () => {
  assert.throws(() => createEvent(catalogV1.EventSchema, create(catalogV1.EventSchema), { source: "/s" }), isCode("KIT_ERR_INVALID_ARGUMENT"));
  assert.throws(() => eventTypeOf(catalogV1.EventSchema), /flotilla\.catalog\.v1\.Event is not an event/);
  assert.equal(eventTypeOf(EventPublishedSchema), "catalog.event_published.v1");
});

test("decodeEvent round-trips every field and refuses another type, another schema or bad data", () => {
  const event = createEvent(EventPublishedSchema, message, { source: "/flotilla/catalog" });
  const decoded = decodeEvent(EventPublishedSchema, event);
  assert.equal(decoded.event?.priceMinor, 4500n);
  assert.equal(decoded.event?.capacity, 900);
  assert.throws(() => decodeEvent(EventPublishedSchema, { ...event, type: "catalog.event_cancelled.v1" }), isCode("KIT_ERR_INVALID_ARGUMENT"));
  assert.throws(() => decodeEvent(EventPublishedSchema, { ...event, dataschema: "flotilla.catalog.v1.Other" }), isCode("KIT_ERR_INVALID_ARGUMENT"));
  assert.throws(() => decodeEvent(EventPublishedSchema, { ...event, data: new Uint8Array([0xff, 0xff, 0xff]) }), isCode("KIT_ERR_MALFORMED_REQUEST"));
});

test("event ids are UUIDv7: the first 48 bits are the creation time, so they sort by time", () => {
  const a = eventId(1_700_000_000_000);
  const b = eventId(1_700_000_000_001);
  assert.equal(Number.parseInt(a.replace("-", "").slice(0, 12), 16), 1_700_000_000_000);
  assert.ok(a < b);
  assert.notEqual(eventId(5), eventId(5));
});
