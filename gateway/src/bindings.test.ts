import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import { serviceWithRule, ThingService } from "../test/support/test-contract.ts";
import { collectBindings } from "./bindings.ts";
import { gatewayErrors } from "./errors.ts";

describe("collectBindings", () => {
  test("reads the catalog's routes, access and cache options", () => {
    const bindings = collectBindings([catalogV1.CatalogService]);
    const summary = bindings.map((b) => [b.meta.operationId, b.meta.verb, b.template.fastifyUrl, b.meta.body]);
    assert.deepEqual(summary, [
      ["CatalogService_ListEvents", "GET", "/v1/catalog/events", ""],
      ["CatalogService_GetEvent", "GET", "/v1/catalog/events/:p0", ""],
      ["CatalogService_GetCityCalendar", "GET", "/v1/catalog/cities/:p0/calendar", ""],
      ["CatalogService_CreateEvent", "POST", "/v1/catalog/events", "*"],
    ]);
    const [list, , , createEvent] = bindings;
    assert.equal(list!.meta.access.public, true);
    assert.equal(list!.meta.cache?.ttlSeconds, 10);
    assert.equal(createEvent!.meta.access.public, false);
    assert.deepEqual(createEvent!.meta.access.permissions, ["catalog:write"]);
    assert.equal(createEvent!.meta.cache, undefined);
    assert.equal(bindings[1]!.pathFields[0]![0]!.name, "event_id");
  });

  test("skips internal methods and methods without an HTTP rule; routes additional bindings", () => {
    const ids = collectBindings([ThingService]).map((b) => b.meta.operationId);
    assert.deepEqual(ids, [
      "ThingService_GetThing",
      "ThingService_GetThing_1",
      "ThingService_Search",
      "ThingService_GetShelf",
      "ThingService_UpdateThing",
      "ThingService_PutThing",
      "ThingService_DeleteThing",
    ]);
  });

  test("resolves nested path fields and the body field", () => {
    const update = collectBindings([ThingService]).find((b) => b.meta.operationId === "ThingService_UpdateThing")!;
    assert.deepEqual(update.pathFields[0]!.map((f) => f.name), ["thing", "id"]);
    assert.equal(update.bodyField?.name, "thing");
  });

  const bad = {
    "an unknown path field": { pattern: { case: "get", value: "/v1/{nope}" } },
    "a message-typed path field": { pattern: { case: "get", value: "/v1/{thing}" } },
    "a template with a verb": { pattern: { case: "get", value: "/v1/things/{thing.id}:frob" } },
    "an unknown body field": { pattern: { case: "post", value: "/v1/x" }, body: "nope" },
    "a GET with a body": { pattern: { case: "get", value: "/v1/x" }, body: "*" },
    "a custom pattern": { pattern: { case: "custom", value: { kind: "HEAD", path: "/v1/x" } } },
    "a response_body": { pattern: { case: "get", value: "/v1/x" }, responseBody: "thing" },
  } as const;
  for (const [name, rule] of Object.entries(bad)) {
    test(`refuses ${name}, naming the method`, () => {
      assert.throws(
        () => collectBindings([serviceWithRule(rule)]),
        (error) => gatewayErrors.is(error, "GW_ERR_BAD_ROUTE") && error.message.includes("test.v1.OneService.Call"),
      );
    });
  }
});
