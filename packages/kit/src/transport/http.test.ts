// What only the Connect server and the HTTP transport do, over real sockets: JSON for curl,
// the connect-timeout-ms header, body limits and encodings. What every transport must do
// (errors, deadlines, draining, unreachable instances) is the shared suite in conformance.ts.
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

const { getEvent, createEvent } = CatalogService.method;
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
  let slowSignal: AbortSignal | undefined;
  let slowAborted: Promise<unknown> = Promise.resolve();
  const handlers: CatalogHandlers = fakeCatalog({
    async getEvent(request, ctx) {
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

  it("serves JSON for curl", async () => {
    const response = await fetch(server.url + GET_PATH, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ eventId: "e2" }) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await response.json(), { event: { eventId: "e2", title: "ok" } });
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

});
