import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type DescService } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";
import type { FlotillaError } from "@flotilla/kit";
import { ThingService } from "../test/support/test-contract.ts";
import { collectBindings } from "./bindings.ts";
import { decodeRequest, encodeResponse, type HttpInput } from "./transcode.ts";

const binding = (service: DescService, operationId: string) => collectBindings([service]).find((b) => b.meta.operationId === operationId)!;
const input = (partial: Partial<HttpInput>): HttpInput => ({ params: {}, query: {}, body: undefined, ...partial });

/** Runs a decode expected to fail and returns the error. */
function failure(run: () => unknown): FlotillaError {
  try {
    run();
  } catch (error) {
    return error as FlotillaError;
  }
  assert.fail("expected an error");
}

describe("decodeRequest", () => {
  const list = binding(catalogV1.CatalogService, "CatalogService_ListEvents");
  const get = binding(catalogV1.CatalogService, "CatalogService_GetEvent");
  const createEvent = binding(catalogV1.CatalogService, "CatalogService_CreateEvent");
  const search = binding(ThingService, "ThingService_Search");

  test("query parameters by proto or JSON name", () => {
    const message = decodeRequest(list, input({ query: { page_size: "5", pageToken: "t", city: "Porto" } }));
    assert.deepEqual(message, create(catalogV1.ListEventsRequestSchema, { pageSize: 5, pageToken: "t", city: "Porto" }));
  });

  test("booleans, enums by name or number, repeated keys, nested names, timestamps, int64", () => {
    const message = decodeRequest(
      search,
      input({
        query: {
          active: "true",
          tags: ["a", "b"],
          color: "COLOR_RED",
          colors: ["2", "COLOR_RED"],
          "inner.city": "Porto",
          "inner.level": "3",
          after: "2025-01-01T00:00:00Z",
          min_count: "9007199254740993",
        },
      }),
    ) as unknown as Record<string, unknown>;
    assert.equal(message.active, true);
    assert.deepEqual(message.tags, ["a", "b"]);
    assert.equal(message.color, 1);
    assert.deepEqual(message.colors, [2, 1]);
    assert.deepEqual((message.inner as { city: string; level: number }).city, "Porto");
    assert.deepEqual((message.inner as { level: number }).level, 3);
    assert.equal((message.after as { seconds: bigint }).seconds, 1735689600n);
    assert.equal(message.minCount, 9007199254740993n);
  });

  test("path variables, nested ones included, win over the body", () => {
    const update = binding(ThingService, "ThingService_UpdateThing");
    const message = decodeRequest(update, input({ params: { p0: "t1" }, query: { dryRun: "true" }, body: { id: "other", name: "n" } })) as unknown as {
      thing: { id: string; name: string };
      dryRun: boolean;
    };
    assert.equal(message.thing.id, "t1");
    assert.equal(message.thing.name, "n");
    assert.equal(message.dryRun, true);
    const put = binding(ThingService, "ThingService_PutThing");
    const replaced = decodeRequest(put, input({ params: { p0: "s1" }, body: { shelfId: "s9", thing: { name: "x" } } })) as unknown as { shelfId: string };
    assert.equal(replaced.shelfId, "s1");
  });

  test("a {name=shelves/*} variable gets the whole resource name", () => {
    const shelf = binding(ThingService, "ThingService_GetShelf");
    assert.equal((decodeRequest(shelf, input({ params: { p0: "7" } })) as unknown as { name: string }).name, "shelves/7");
    assert.equal((decodeRequest(get, input({ params: { p0: "evt_1" } })) as unknown as { eventId: string }).eventId, "evt_1");
  });

  test("a string path variable fills the same message as the JSON decoding would", () => {
    assert.deepEqual(decodeRequest(get, input({ params: { p0: "evt_1" } })), create(catalogV1.GetEventRequestSchema, { eventId: "evt_1" }));
    assert.deepEqual(decodeRequest(get, input({ params: { p0: "" } })), create(catalogV1.GetEventRequestSchema));
  });

  test("a JSON body in either naming", () => {
    const body = { title: "T", starts_at: "2030-01-01T10:00:00Z", priceMinor: "2500", category: "EVENT_CATEGORY_SPORT" };
    const message = decodeRequest(createEvent, input({ body }));
    assert.deepEqual(
      message,
      create(catalogV1.CreateEventRequestSchema, {
        title: "T",
        startsAt: timestampFromDate(new Date("2030-01-01T10:00:00Z")),
        priceMinor: 2500n,
        category: catalogV1.EventCategory.SPORT,
      }),
    );
    assert.deepEqual(decodeRequest(createEvent, input({})), create(catalogV1.CreateEventRequestSchema));
  });

  const cases: [string, () => unknown, string, RegExp][] = [
    ["an unknown body field", () => decodeRequest(createEvent, input({ body: { colour: "red" } })), "colour", /unknown field "colour"/],
    ["a wrong type", () => decodeRequest(createEvent, input({ body: { capacity: "lots" } })), "capacity", /uint32/],
    ["a bad timestamp", () => decodeRequest(createEvent, input({ body: { startsAt: "soon" } })), "starts_at", /RFC 3339/],
    ["a timestamp as an object", () => decodeRequest(createEvent, input({ body: { startsAt: { seconds: 1 } } })), "starts_at", /Timestamp, got object/],
    ["a bad enum name", () => decodeRequest(createEvent, input({ body: { category: "JAZZ" } })), "category", /JAZZ.*EventCategory/],
    ["a nested unknown field", () => decodeRequest(binding(ThingService, "ThingService_UpdateThing"), input({ params: { p0: "t" }, body: { inner: { x: 1 } } })), "thing.inner.x", /unknown/],
    ["a non-numeric query value", () => decodeRequest(list, input({ query: { page_size: "abc" } })), "page_size", /int32/],
    ["an unknown query parameter", () => decodeRequest(list, input({ query: { colour: "red" } })), "colour", /colour/],
    ["a bad boolean", () => decodeRequest(search, input({ query: { active: "yes" } })), "active", /true or false/],
    ["a repeated singular parameter", () => decodeRequest(list, input({ query: { city: ["a", "b"] } })), "city", /more than once/],
    ["a query parameter naming a message", () => decodeRequest(search, input({ query: { inner: "x" } })), "inner", /message/],
  ];
  for (const [name, run, field, detail] of cases) {
    test(`${name} is GW_ERR_INVALID_FIELD naming ${field}`, () => {
      const error = failure(run);
      assert.equal(error.code, "GW_ERR_INVALID_FIELD");
      assert.match(error.message, detail);
      assert.deepEqual(error.violations.map((v) => v.field), [field]);
    });
  }

  test("a body that is not an object", () => {
    const error = failure(() => decodeRequest(createEvent, input({ body: [1, 2] })));
    assert.equal(error.code, "GW_ERR_INVALID_FIELD");
    assert.match(error.message, /JSON object/);
  });
});

describe("encodeResponse", () => {
  test("proto3 JSON: lowerCamelCase, int64 as string, enum names, implicit fields present", () => {
    const method = catalogV1.CatalogService.method.getEvent;
    const output = create(catalogV1.GetEventResponseSchema, {
      event: { eventId: "e1", priceMinor: 2500n, category: catalogV1.EventCategory.CONCERT, startsAt: timestampFromDate(new Date("2030-01-01T00:00:00Z")) },
    });
    const json = encodeResponse(method, output) as { event: Record<string, unknown> };
    assert.equal(json.event.eventId, "e1");
    assert.equal(json.event.priceMinor, "2500");
    assert.equal(json.event.category, "EVENT_CATEGORY_CONCERT");
    assert.equal(json.event.startsAt, "2030-01-01T00:00:00Z");
    assert.equal(json.event.capacity, 0);
    assert.equal(json.event.title, "");
    const list = encodeResponse(catalogV1.CatalogService.method.listEvents, create(catalogV1.ListEventsResponseSchema));
    assert.deepEqual(list, { events: [], nextPageToken: "" });
  });
});
