import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, isMessage } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, getEventRequest, validCreateRequest } from "./test-fixtures.ts";
import type { CallContext, ServerInterceptor } from "./types.ts";

const GET = "/flotilla.catalog.v1.CatalogService/GetEvent";
const CREATE = "/flotilla.catalog.v1.CatalogService/CreateEvent";

function ctxFor(router: Router, path: string, metadata: Record<string, string> = {}): CallContext {
  const route = router.lookup(path)!;
  return { service: route.service, method: route.method, deadline: undefined, metadata, signal: new AbortController().signal };
}

async function rejection(promise: Promise<unknown>): Promise<FlotillaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FlotillaError, `expected a FlotillaError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("Router", () => {
  it("routes by Connect path and turns the handler's init shape into the output message", async () => {
    const router = new Router().add(CatalogService, fakeCatalog());
    assert.equal(router.lookup("/flotilla.catalog.v1.CatalogService/Nope"), undefined);
    const route = router.lookup(GET);
    assert.ok(route);
    assert.equal(route.method.name, "GetEvent");
    const output = await route.invoke(getEventRequest("e7"), ctxFor(router, GET));
    assert.ok(isMessage(output, catalogV1.GetEventResponseSchema));
    assert.equal(output.event?.eventId, "e7");
    assert.deepEqual(
      router.routes().map((r) => r.path).sort(),
      [CREATE, GET, "/flotilla.catalog.v1.CatalogService/GetCityCalendar", "/flotilla.catalog.v1.CatalogService/ListEvents"].sort(),
    );
  });

  it("rejects invalid input listing every failing field, without calling the handler", async () => {
    let called = false;
    const router = new Router().add(
      CatalogService,
      fakeCatalog({
        async createEvent() {
          called = true;
          return {};
        },
      }),
    );
    const input = create(catalogV1.CreateEventRequestSchema, { ...validCreateRequest(), title: "", venue: "", startsAt: undefined, currency: "euro" });
    const error = await rejection(router.lookup(CREATE)!.invoke(input, ctxFor(router, CREATE)));
    assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
    assert.equal(error.rpc, "invalid_argument");
    const fields = error.violations.map((v) => v.field).sort();
    assert.deepEqual(fields, ["currency", "starts_at", "title", "venue"]);
    const title = error.violations.find((v) => v.field === "title");
    assert.equal(title?.rule, "string.min_len");
    assert.ok((title?.message ?? "").length > 0);
    assert.equal(called, false);
  });

  it("answers an unexpected error as internal without leaking its message, and keeps the cause for logs", async () => {
    const seen: FlotillaError[] = [];
    const router = new Router({ onError: (e) => seen.push(e) }).add(
      CatalogService,
      fakeCatalog({
        async getEvent() {
          throw new Error("password=hunter2 at db.ts:42");
        },
      }),
    );
    const error = await rejection(router.lookup(GET)!.invoke(getEventRequest("e1"), ctxFor(router, GET)));
    assert.equal(error.code, "KIT_ERR_INTERNAL");
    assert.equal(error.message, "internal error");
    assert.ok(error.cause instanceof Error && error.cause.message.includes("hunter2"));
    assert.equal(seen.length, 1);
    assert.equal(seen[0], error);
  });

  it("passes a handler's FlotillaError through unchanged", async () => {
    const notFound = new FlotillaError({ code: "CATALOG_ERR_EVENT_NOT_FOUND", rpc: "not_found", message: "no event e9" });
    const router = new Router().add(
      CatalogService,
      fakeCatalog({
        async getEvent() {
          throw notFound;
        },
      }),
    );
    assert.equal(await rejection(router.lookup(GET)!.invoke(getEventRequest("e9"), ctxFor(router, GET))), notFound);
  });

  it("runs interceptors in order, the first outermost, after validation", async () => {
    const order: string[] = [];
    const tag =
      (name: string): ServerInterceptor =>
      (next) =>
      async (input, ctx) => {
        order.push(`${name}>`);
        const output = await next(input, { ...ctx, metadata: { ...ctx.metadata, [name]: "1" } });
        order.push(`<${name}`);
        return output;
      };
    let metadata: Record<string, string> = {};
    const router = new Router({ interceptors: [tag("a")] }).add(
      CatalogService,
      fakeCatalog({
        async getEvent(request, ctx) {
          metadata = ctx.metadata;
          order.push("handler");
          return { event: { eventId: request.eventId } };
        },
      }),
      { interceptors: [tag("b")] },
    );
    await router.lookup(GET)!.invoke(getEventRequest("e1"), ctxFor(router, GET, { "x-request-id": "r1" }));
    assert.deepEqual(order, ["a>", "b>", "handler", "<b", "<a"]);
    assert.deepEqual(metadata, { "x-request-id": "r1", a: "1", b: "1" });
    order.length = 0;
    await rejection(router.lookup(GET)!.invoke(getEventRequest(""), ctxFor(router, GET)));
    assert.deepEqual(order, [], "invalid input never reaches the interceptors");
  });

  it("refuses a service twice and a contract method without a handler", () => {
    const router = new Router().add(CatalogService, fakeCatalog());
    assert.throws(() => router.add(CatalogService, fakeCatalog()), (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_CONFIG_INVALID");
    const { createEvent: _, ...partial } = fakeCatalog();
    assert.throws(
      () => new Router().add(CatalogService, partial as ReturnType<typeof fakeCatalog>),
      (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_CONFIG_INVALID" && e.message.includes("createEvent"),
    );
  });
});
