// The Connect server and the HTTP transport together, over real sockets.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { HttpTransport } from "./http-client.ts";
import { type RpcServer, startRpcServer } from "./http-server.ts";
import { Router } from "./router.ts";
import { type CatalogHandlers, CatalogService, fakeCatalog, getEventRequest, instance, validCreateRequest } from "./test-fixtures.ts";
import { mayHaveBeenDelivered } from "./transport-failure.ts";
import type { CallContext } from "./types.ts";

const { getEvent, createEvent, listEvents } = CatalogService.method;
const GET_PATH = "/flotilla.catalog.v1.CatalogService/GetEvent";

async function rejection(promise: Promise<unknown>): Promise<FlotillaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FlotillaError, `expected a FlotillaError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("Connect over HTTP: server and transport", () => {
  const transport = new HttpTransport();
  let server: RpcServer;
  let lastCtx: CallContext | undefined;
  let slowSignal: AbortSignal | undefined;
  let slowAborted: Promise<unknown> = Promise.resolve();
  const handlers: CatalogHandlers = fakeCatalog({
    async getEvent(request, ctx) {
      lastCtx = ctx;
      if (request.eventId === "missing") throw new FlotillaError({ code: "CATALOG_ERR_EVENT_NOT_FOUND", rpc: "not_found", message: "no event missing" });
      if (request.eventId === "boom") throw new TypeError("cannot read properties of undefined (reading 'secret')");
      if (request.eventId === "slow") {
        slowSignal = ctx.signal;
        slowAborted = new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        await new Promise((resolve) => setTimeout(resolve, 3_000).unref());
      }
      return { event: { eventId: request.eventId, title: "ok" } };
    },
  });

  before(async () => {
    server = await startRpcServer({ router: new Router().add(CatalogService, handlers), maxBodyBytes: 64 * 1024 });
  });
  after(async () => {
    await transport.close();
    await server.close(1_000);
  });

  const target = () => instance("catalog-1", server.url);

  it("round-trips binary protobuf, with metadata and the deadline", async () => {
    const sent = Date.now();
    const deadline = sent + 5_000;
    const output = await transport.unary(target(), getEvent, getEventRequest("e1"), { metadata: { "x-request-id": "r-1", traceparent: "00-abc-def-01" }, deadline });
    const elapsed = Date.now() - sent;
    assert.equal(output.$typeName, "flotilla.catalog.v1.GetEventResponse");
    assert.equal(output.event?.title, "ok");
    assert.equal(lastCtx?.metadata["x-request-id"], "r-1");
    assert.equal(lastCtx?.metadata["traceparent"], "00-abc-def-01");
    assert.equal(lastCtx?.metadata["content-type"], undefined, "protocol headers are not metadata");
    assert.equal(lastCtx?.metadata["connect-timeout-ms"], undefined);
    // connect-timeout-ms is relative: the server's deadline is the client's, shifted by the time in transit.
    const seen = lastCtx?.deadline;
    assert.ok(seen !== undefined && seen >= deadline - 2 && seen <= deadline + elapsed + 2, `deadline ${seen} vs ${deadline} (+${elapsed} ms)`);
    const list = await transport.unary(target(), listEvents, create(catalogV1.ListEventsRequestSchema, { pageSize: 50 }), { metadata: {} });
    assert.equal(list.events.length, 50);
  });

  it("serves JSON for curl", async () => {
    const response = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ eventId: "e2" }) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await response.json(), { event: { eventId: "e2", title: "ok" } });
  });

  it("carries a handler's error code, rpc code and retryable flag to the caller", async () => {
    const error = await rejection(transport.unary(target(), getEvent, getEventRequest("missing"), { metadata: {} }));
    assert.equal(error.code, "CATALOG_ERR_EVENT_NOT_FOUND");
    assert.equal(error.rpc, "not_found");
    assert.equal(error.retryable, false);
    assert.equal(error.message, "no event missing");
    const raw = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json" }, body: '{"eventId":"missing"}' });
    assert.equal(raw.status, 404);
    const body = (await raw.json()) as { code: string; details: { type: string }[] };
    assert.equal(body.code, "not_found");
    assert.equal(body.details[0]?.type, "google.rpc.ErrorInfo");
  });

  it("carries validation violations", async () => {
    const input = create(catalogV1.CreateEventRequestSchema, { ...validCreateRequest(), title: "", capacity: 0 });
    const error = await rejection(transport.unary(target(), createEvent, input, { metadata: {} }));
    assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
    assert.equal(error.rpc, "invalid_argument");
    assert.deepEqual(error.violations.map((v) => v.field).sort(), ["capacity", "title"]);
    assert.ok(error.violations.every((v) => v.rule !== undefined && v.message.length > 0));
  });

  it("answers an unexpected error as internal without its message", async () => {
    const error = await rejection(transport.unary(target(), getEvent, getEventRequest("boom"), { metadata: {} }));
    assert.equal(error.code, "KIT_ERR_INTERNAL");
    assert.equal(error.message, "internal error");
    const raw = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json" }, body: '{"eventId":"boom"}' });
    assert.doesNotMatch(await raw.text(), /secret|TypeError/);
  });

  it("fails at the deadline with deadline_exceeded and aborts the handler's signal", async () => {
    const started = Date.now();
    const error = await rejection(transport.unary(target(), getEvent, getEventRequest("slow"), { metadata: {}, deadline: Date.now() + 150 }));
    assert.equal(error.code, "KIT_ERR_DEADLINE_EXCEEDED");
    assert.equal(error.rpc, "deadline_exceeded");
    assert.ok(Date.now() - started < 2_500, "answered at the deadline, not when the 3 s handler finished");
    await slowAborted;
    assert.equal(slowSignal?.aborted, true);
  });

  it("the server answers deadline_exceeded itself when connect-timeout-ms passes", async () => {
    const body = toBinary(catalogV1.GetEventRequestSchema, getEventRequest("slow"));
    const response = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/proto", "connect-timeout-ms": "100" }, body });
    assert.equal(response.status, 504);
    assert.equal(((await response.json()) as { code: string }).code, "deadline_exceeded");
    await slowAborted;
    assert.equal(slowSignal?.aborted, true);
  });

  it("aborts the handler's signal when the client goes away", async () => {
    const controller = new AbortController();
    const pending = transport.unary(target(), getEvent, getEventRequest("slow"), { metadata: {}, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    assert.equal((await rejection(pending)).code, "KIT_ERR_CANCELED");
    await slowAborted;
    assert.equal(slowSignal?.aborted, true);
  });

  it("refuses a body over the limit with resource_exhausted", async () => {
    const big = create(catalogV1.CreateEventRequestSchema, { ...validCreateRequest(), description: "x".repeat(70 * 1024) });
    const error = await rejection(transport.unary(target(), createEvent, big, { metadata: {} }));
    assert.equal(error.code, "KIT_ERR_MESSAGE_TOO_LARGE");
    assert.equal(error.rpc, "resource_exhausted");
    const chunked = await fetch(server.url + GET_PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob([`{"eventId":"${"y".repeat(70 * 1024)}"}`]).stream(),
      duplex: "half",
    } as RequestInit);
    assert.equal(chunked.status, 429);
    assert.equal(((await chunked.json()) as { code: string }).code, "resource_exhausted");
  });

  it("refuses a malformed body, an unknown method, other content types and verbs", async () => {
    const garbage = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/proto" }, body: new Uint8Array([0xff, 0xff, 0xff]) });
    assert.equal(garbage.status, 400);
    assert.equal(((await garbage.json()) as { code: string }).code, "invalid_argument");
    const badJson = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json" }, body: '{"eventId": 12' });
    assert.equal(badJson.status, 400);
    const unknown = await fetch(server.url + "/flotilla.catalog.v1.CatalogService/DeleteEvent", { method: "POST", headers: { "content-type": "application/proto" }, body: "" });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, "unimplemented");
    const xml = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "text/xml" }, body: "<a/>" });
    assert.equal(xml.status, 415);
    const get = await fetch(server.url + GET_PATH);
    assert.equal(get.status, 405);
    const other = await fetch(server.url + "/livez");
    assert.equal(other.status, 404);
  });

  it("accepts a gzip body and refuses a malformed connect-timeout-ms", async () => {
    const zipped = gzipSync(JSON.stringify({ eventId: "zipped" }));
    const ok = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: zipped });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { event: { eventId: string } }).event.eventId, "zipped");
    const brotli = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json", "content-encoding": "br" }, body: "{}" });
    assert.equal(((await brotli.json()) as { code: string }).code, "unimplemented");
    const badTimeout = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json", "connect-timeout-ms": "soon" }, body: "{}" });
    assert.equal(badTimeout.status, 400);
    assert.equal(((await badTimeout.json()) as { code: string }).code, "invalid_argument");
  });

  it("fails unavailable, surely undelivered, when the connection is refused", async () => {
    const closed = await startRpcServer({ router: new Router() });
    await closed.close();
    const error = await rejection(transport.unary(instance("gone", closed.url), getEvent, getEventRequest("e1"), { metadata: {} }));
    assert.equal(error.code, "KIT_ERR_UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.equal(mayHaveBeenDelivered(error), false);
  });
});

describe("drain", () => {
  it("refuses new calls with KIT_ERR_DRAINING and resolves once calls in flight finish", async () => {
    let release: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const server = await startRpcServer({
      router: new Router().add(
        CatalogService,
        fakeCatalog({
          async getEvent(request) {
            started();
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            return { event: { eventId: request.eventId } };
          },
        }),
      ),
    });
    const transport = new HttpTransport();
    try {
      const target = instance("c", server.url);
      const inFlight = transport.unary(target, getEvent, getEventRequest("e1"), { metadata: {} });
      await running;
      assert.equal(server.rpc.inFlight, 1);
      let drained = false;
      const draining = server.drain().then(() => {
        drained = true;
      });
      const refused = await rejection(transport.unary(target, getEvent, getEventRequest("e2"), { metadata: {} }));
      assert.equal(refused.code, "KIT_ERR_DRAINING");
      assert.equal(refused.rpc, "unavailable");
      assert.equal(mayHaveBeenDelivered(refused), false);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(drained, false, "drain waits for the call in flight");
      release();
      assert.equal((await inFlight).event?.eventId, "e1");
      await draining;
      assert.equal(drained, true);
      assert.equal(server.rpc.inFlight, 0);
    } finally {
      release();
      await transport.close();
      await server.close(1_000);
    }
  });

  it("gives up waiting after the timeout", async () => {
    const server = await startRpcServer({
      router: new Router().add(CatalogService, fakeCatalog({ getEvent: () => new Promise(() => {}) })),
    });
    const transport = new HttpTransport();
    try {
      const pending = transport.unary(instance("c", server.url), getEvent, getEventRequest("e1"), { metadata: {}, deadline: Date.now() + 600 }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The handler never finishes: drain returning at all is the timeout at work.
      await server.drain(100);
      assert.equal(server.rpc.inFlight, 1);
      await transport.close();
      await pending;
    } finally {
      server.server.closeAllConnections();
      await server.close(0);
    }
  });
});
