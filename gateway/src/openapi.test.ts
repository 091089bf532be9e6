import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import { openApiProblems } from "../test/support/openapi-structure.ts";
import { ThingService } from "../test/support/test-contract.ts";
import { buildOpenApi, type OpenApiDocument } from "./openapi.ts";
import type { JsonSchema } from "./openapi-schema.ts";

const catalog = buildOpenApi({ services: [catalogV1.CatalogService], info: { title: "Test API", version: "9.9.9" } });
const things = buildOpenApi({ services: [ThingService] });
const schema = (doc: OpenApiDocument, name: string) => doc.components.schemas[name] as JsonSchema & { properties: Record<string, JsonSchema> };

describe("buildOpenApi", () => {
  test("the documents pass the structural checks", () => {
    assert.deepEqual(openApiProblems(catalog), []);
    assert.deepEqual(openApiProblems(things), []);
  });

  test("the structural check itself catches broken documents", () => {
    const broken = structuredClone(catalog) as unknown as { paths: Record<string, Record<string, { operationId: string; parameters: unknown[] }>> };
    broken.paths["/v1/catalog/events"]!.post!.operationId = "CatalogService_ListEvents";
    broken.paths["/v1/catalog/events/{event_id}"]!.get!.parameters = [];
    (broken.paths["/v1/catalog/events"]!.get as unknown as { responses: unknown }).responses = { "200": { $ref: "#/components/responses/Nope" } };
    const problems = openApiProblems(broken);
    assert.ok(problems.some((p) => p.includes("not unique")), problems.join("\n"));
    assert.ok(problems.some((p) => p.includes("{event_id} is not declared")), problems.join("\n"));
    assert.ok(problems.some((p) => p.includes("Nope does not resolve")), problems.join("\n"));
  });

  test("lists the catalog routes with ids, tags, summaries and info", () => {
    assert.equal(catalog.openapi, "3.1.0");
    assert.deepEqual(catalog.info, { title: "Test API", version: "9.9.9" });
    const ops = Object.entries(catalog.paths).flatMap(([path, item]) => Object.entries(item).map(([verb, op]) => `${verb} ${path} ${op.operationId}`));
    assert.deepEqual(ops.sort(), [
      "get /v1/catalog/cities/{city}/calendar CatalogService_GetCityCalendar",
      "get /v1/catalog/events CatalogService_ListEvents",
      "get /v1/catalog/events/{event_id} CatalogService_GetEvent",
      "post /v1/catalog/events CatalogService_CreateEvent",
    ]);
    const list = catalog.paths["/v1/catalog/events"]!.get!;
    assert.deepEqual(list.tags, ["CatalogService"]);
    assert.equal(list.summary, "List events");
    assert.deepEqual(catalog.tags.map((t) => t.name), ["CatalogService"]);
  });

  test("public routes need no security, the others a bearer token", () => {
    assert.deepEqual(catalog.paths["/v1/catalog/events"]!.get!.security, []);
    const post = catalog.paths["/v1/catalog/events"]!.post!;
    assert.deepEqual(post.security, [{ bearerAuth: [] }]);
    assert.deepEqual(post["x-flotilla-permissions"], ["catalog:write"]);
    assert.deepEqual(catalog.components.securitySchemes.bearerAuth, { type: "http", scheme: "bearer", bearerFormat: "JWT" });
    assert.ok("401" in post.responses && !("401" in catalog.paths["/v1/catalog/events"]!.get!.responses));
  });

  test("parameters: path from the template, query from the remaining fields by JSON name", () => {
    const get = catalog.paths["/v1/catalog/events/{event_id}"]!.get!;
    assert.deepEqual(get.parameters, [
      { name: "event_id", in: "path", required: true, description: "Sets `event_id`.", schema: { type: "string", minLength: 1, maxLength: 64 } },
    ]);
    const list = catalog.paths["/v1/catalog/events"]!.get!;
    assert.deepEqual(list.parameters.map((p) => `${p.in}:${p.name}`), ["query:pageSize", "query:pageToken", "query:city"]);
    assert.deepEqual(list.parameters[0]!.schema, { type: "integer", format: "int32", minimum: 0, maximum: 100 });
    const search = things.paths["/v1/things"]!.get!;
    assert.deepEqual(search.parameters.map((p) => p.name), ["active", "tags", "color", "inner.city", "inner.level", "after", "colors", "minCount"]);
    assert.deepEqual(search.parameters.find((p) => p.name === "tags"), { name: "tags", in: "query", schema: { type: "array", items: { type: "string" } }, style: "form", explode: true });
  });

  test("request bodies: the whole message, one field, or the message minus its path fields", () => {
    assert.deepEqual(catalog.paths["/v1/catalog/events"]!.post!.requestBody, {
      required: true,
      content: { "application/json": { schema: { $ref: "#/components/schemas/flotilla.catalog.v1.CreateEventRequest" } } },
    });
    assert.equal(catalog.paths["/v1/catalog/events"]!.get!.requestBody, undefined);
    const patch = things.paths["/v1/things/{thing.id}"]!.patch!;
    assert.deepEqual(patch.requestBody?.content["application/json"]?.schema, { $ref: "#/components/schemas/test.v1.Thing" });
    assert.deepEqual(patch.parameters.map((p) => `${p.in}:${p.name}`), ["path:thing.id", "query:dryRun"]);
    const put = things.paths["/v1/shelves/{shelf_id}/things"]!.put!;
    const body = put.requestBody?.content["application/json"]?.schema as { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.properties), ["thing"]);
    assert.deepEqual(put.parameters.map((p) => `${p.in}:${p.name}`), ["path:shelf_id"]);
  });

  test("responses: the output message for 200, shared problem responses for errors", () => {
    const get = catalog.paths["/v1/catalog/events/{event_id}"]!.get!;
    assert.deepEqual(get.responses["200"], {
      description: "OK",
      content: { "application/json": { schema: { $ref: "#/components/schemas/flotilla.catalog.v1.GetEventResponse" } } },
    });
    assert.deepEqual(get.responses["404"], { $ref: "#/components/responses/Problem404" });
    assert.deepEqual(Object.keys(catalog.components.responses.Problem404!.content), ["application/problem+json"]);
    const problem = schema(catalog, "Problem");
    assert.deepEqual(Object.keys(problem.properties), ["type", "title", "status", "detail", "instance", "code", "violations"]);
  });

  test("schemas follow the proto3 JSON mapping", () => {
    const event = schema(catalog, "flotilla.catalog.v1.Event").properties;
    assert.deepEqual(event.priceMinor, { type: "string", format: "int64", pattern: "^-?[0-9]+$" });
    assert.deepEqual(event.startsAt, { type: "string", format: "date-time" });
    assert.deepEqual(event.category, { $ref: "#/components/schemas/flotilla.catalog.v1.EventCategory" });
    assert.equal(event.capacity!.type, "integer");
    assert.deepEqual(schema(catalog, "flotilla.catalog.v1.EventCategory").enum, [
      "EVENT_CATEGORY_UNSPECIFIED",
      "EVENT_CATEGORY_CONCERT",
      "EVENT_CATEGORY_SPORT",
      "EVENT_CATEGORY_THEATRE",
      "EVENT_CATEGORY_COMEDY",
      "EVENT_CATEGORY_FESTIVAL",
      "EVENT_CATEGORY_OTHER",
    ]);
    assert.deepEqual(schema(catalog, "flotilla.catalog.v1.ListEventsResponse").properties.events, {
      type: "array",
      items: { $ref: "#/components/schemas/flotilla.catalog.v1.Event" },
    });
    const thing = schema(things, "test.v1.Thing").properties;
    assert.deepEqual(thing.labels, { type: "object", additionalProperties: { type: "string" } });
    assert.deepEqual(thing.count, { type: "string", format: "int64", pattern: "^-?[0-9]+$" });
    assert.deepEqual(thing.inner, { $ref: "#/components/schemas/test.v1.Inner" });
  });

  test("protovalidate rules become JSON Schema keywords", () => {
    const req = schema(catalog, "flotilla.catalog.v1.CreateEventRequest");
    const p = req.properties;
    assert.deepEqual(p.title, { type: "string", minLength: 1, maxLength: 200 });
    assert.deepEqual(p.currency, { type: "string", pattern: "^[A-Z]{3}$" });
    assert.equal(p.capacity!.exclusiveMinimum, 0);
    assert.equal(p.capacity!.maximum, 1000000);
    assert.ok(!(p.category!.enum as string[]).includes("EVENT_CATEGORY_UNSPECIFIED"));
    assert.equal((p.category!.enum as string[]).length, 6);
    assert.deepEqual(req.required, ["startsAt"]);
  });

  test("internal methods and methods without HTTP rules are not documented", () => {
    const ids = Object.values(things.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    assert.ok(!ids.some((id) => id.includes("Reindex") || id.includes("NoHttp")));
    assert.equal(ids.length, 7);
  });
});
