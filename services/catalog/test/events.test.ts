// The catalog on the chassis's data layer: writes leave as
// catalog.event_published.v1 through the outbox, and the city calendar is a
// projection that equals its own rebuild.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogEventsV1, catalogV1 } from "@flotilla/contracts";
import { type CloudEvent, createLogger } from "@flotilla/kit";
import { decodeEvent, type HostedService, hostService, MemoryBus, PgliteProvider, ProjectionRunner } from "@flotilla/kit/internal";
import { catalogService } from "../src/index.ts";
import { cityCalendar, readCityCalendar } from "../src/projections.ts";
import { catalogEventStore } from "../src/publishing.ts";

const provider = new PgliteProvider();
const bus = new MemoryBus();
let hosted: HostedService;
const received: CloudEvent[] = [];

before(async () => {
  hosted = await hostService(catalogService, { provider, bus, log: createLogger("test", "silent"), mode: "embedded" });
  await bus.subscribe({ consumer: "test.published", type: "catalog.event_published.v1" }, async ({ event }) => {
    received.push(event);
  });
});

after(async () => {
  await hosted.stop();
  await bus.close();
  await provider.close();
});

async function call<M extends keyof typeof catalogV1.CatalogService.method>(name: M, input: object) {
  const route = hosted.router.lookup(`/flotilla.catalog.v1.CatalogService/${catalogV1.CatalogService.method[name].name}`)!;
  const method = catalogV1.CatalogService.method[name];
  const ctrl = new AbortController();
  return route.invoke(create(method.input, input as never), { service: catalogV1.CatalogService, method: method as never, deadline: undefined, metadata: {}, signal: ctrl.signal });
}

const day = (d: number) => new Date(Date.UTC(2031, 0, d, 20));

test("creating an event publishes catalog.event_published.v1 once, with the event as data", async () => {
  const out = (await call("createEvent", {
    title: "Fado night",
    category: catalogV1.EventCategory.CONCERT,
    venue: "Alfama",
    city: "Lisbon",
    startsAt: timestampFromDate(day(3)),
    capacity: 120,
    priceMinor: 2000n,
    currency: "EUR",
  })) as catalogV1.CreateEventResponse;
  const id = out.event!.eventId;
  const end = Date.now() + 10_000;
  while (!received.some((e) => e.subject === `event-${id}`) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const mine = received.filter((e) => e.subject === `event-${id}`);
  assert.equal(mine.length, 1);
  assert.equal(mine[0]!.source, "/flotilla/catalog");
  assert.equal(mine[0]!.dataschema, "flotilla.catalog.v1.EventPublished");
  const message = decodeEvent(catalogEventsV1.EventPublishedSchema, mine[0]!);
  assert.equal(message.event?.title, "Fado night");
  assert.equal(message.event?.eventId, id);
});

test("the city calendar projection follows the store and equals its rebuild", async () => {
  for (const [d, capacity] of [[5, 100], [5, 50], [6, 10]] as const) {
    await call("createEvent", { title: `Show ${d}`, category: catalogV1.EventCategory.THEATRE, venue: "V", city: "Porto", startsAt: timestampFromDate(day(d)), capacity, priceMinor: 0n, currency: "EUR" });
  }
  const expected = [
    { day: "2031-01-05", events: 2, seats: 150n },
    { day: "2031-01-06", events: 1, seats: 10n },
  ];
  const end = Date.now() + 10_000;
  let incremental = await readCityCalendar(hosted.db, "porto");
  while (JSON.stringify(incremental, (_k, v) => (typeof v === "bigint" ? `${v}` : v)) !== JSON.stringify(expected, (_k, v) => (typeof v === "bigint" ? `${v}` : v)) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    incremental = await readCityCalendar(hosted.db, "porto");
  }
  assert.deepEqual(incremental, expected);
  const viaApi = (await call("getCityCalendar", { city: "PORTO" })) as catalogV1.GetCityCalendarResponse;
  assert.deepEqual(viaApi.days.map((x) => [x.day, x.events, x.seats]), [["2031-01-05", 2, 150n], ["2031-01-06", 1, 10n]]);

  const everything = await hosted.db.query("SELECT city_key, day::text, events, seats::text FROM city_calendar ORDER BY 1, 2");
  const runner = new ProjectionRunner({ db: hosted.db, store: catalogEventStore({ db: hosted.db, source: "/flotilla/catalog", outbox: { enqueue: async () => {} } }), projections: [cityCalendar] });
  await runner.rebuild("city-calendar");
  assert.deepEqual(await hosted.db.query("SELECT city_key, day::text, events, seats::text FROM city_calendar ORDER BY 1, 2"), everything);
});
