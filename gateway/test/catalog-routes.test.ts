// The catalog contract through the gateway over real HTTP, against an
// in-test CatalogService: transcoding both ways and every error shape.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import { FlotillaError, kitErrors } from "@flotilla/kit";
import type { FastifyInstance } from "fastify";
import { createGateway } from "../src/index.ts";
import { fakeCatalog } from "./support/fake-catalog.ts";

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  violations?: { field: string; message: string }[];
}

const catalog = fakeCatalog();
let app: FastifyInstance;
let base: string;

before(async () => {
  app = createGateway({ services: [catalogV1.CatalogService], invoke: catalog.invoke, logger: false });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});
after(() => app.close());
beforeEach(() => catalog.reset());

async function call(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
}

const postJson = (body: string, contentType = "application/json") =>
  call("/v1/catalog/events", { method: "POST", headers: { "content-type": contentType }, body });

/** Asserts an RFC 9457 response and returns its body. */
function problem(res: { status: number; headers: Headers; body: unknown }, status: number, code: string): Problem {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const p = res.body as Problem;
  assert.equal(p.status, status);
  assert.equal(p.code, code);
  assert.equal(p.type, `/problems/${code.toLowerCase().replaceAll("_", "-")}`);
  assert.equal(typeof p.title, "string");
  assert.equal(p.instance, res.headers.get("x-request-id"));
  return p;
}

const validEvent = {
  title: "Test concert",
  category: "EVENT_CATEGORY_CONCERT",
  venue: "Hall",
  city: "Porto",
  startsAt: "2030-06-01T20:00:00Z",
  capacity: 100,
  priceMinor: "2500",
  currency: "EUR",
};

describe("routes from the catalog contract", () => {
  test("GET list: the query string becomes a typed ListEventsRequest", async () => {
    const res = await call("/v1/catalog/events?page_size=1&city=lisbon&pageToken=0");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const [sent] = catalog.calls;
    assert.equal(sent?.method, "ListEvents");
    assert.equal(sent.input.$typeName, "flotilla.catalog.v1.ListEventsRequest");
    const req = sent.input as catalogV1.ListEventsRequest;
    assert.deepEqual({ pageSize: req.pageSize, city: req.city, pageToken: req.pageToken }, { pageSize: 1, city: "lisbon", pageToken: "0" });
    const body = res.body as { events: Record<string, unknown>[]; nextPageToken: string };
    assert.equal(body.events.length, 1);
    assert.equal(body.nextPageToken, "1");
    assert.deepEqual(body.events[0], {
      eventId: "evt_1",
      title: "Fado night",
      description: "",
      category: "EVENT_CATEGORY_CONCERT",
      venue: "",
      city: "Lisbon",
      startsAt: "2030-01-01T00:00:00Z",
      capacity: 100,
      priceMinor: "2500",
      currency: "EUR",
    });
  });

  test("GET by path parameter", async () => {
    const res = await call("/v1/catalog/events/evt_2");
    assert.equal(res.status, 200);
    assert.equal((catalog.calls[0]!.input as catalogV1.GetEventRequest).eventId, "evt_2");
    assert.equal((res.body as { event: { title: string } }).event.title, "Jazz in the park");
  });

  test("POST with a JSON body becomes a typed CreateEventRequest", async () => {
    const res = await postJson(JSON.stringify(validEvent));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const req = catalog.calls[0]?.input as catalogV1.CreateEventRequest;
    assert.equal(req.$typeName, "flotilla.catalog.v1.CreateEventRequest");
    assert.equal(req.category, catalogV1.EventCategory.CONCERT);
    assert.equal(req.priceMinor, 2500n);
    assert.equal(req.startsAt?.seconds, BigInt(Date.parse("2030-06-01T20:00:00Z") / 1000));
    const created = (res.body as { event: { eventId: string; title: string } }).event;
    assert.equal(created.title, "Test concert");
    const fetched = await call(`/v1/catalog/events/${created.eventId}`);
    assert.equal((fetched.body as { event: { venue: string } }).event.venue, "Hall");
  });

  test("a service error keeps its code and maps its RPC code to the status", async () => {
    const p = problem(await call("/v1/catalog/events/evt_nope"), 404, "CATALOG_ERR_EVENT_NOT_FOUND");
    assert.equal(p.detail, "no event evt_nope");
  });

  test("validation violations from the service come back as a 400 listing the fields", async () => {
    const res = await postJson(JSON.stringify({ ...validEvent, title: "", capacity: 0, currency: "euro" }));
    const p = problem(res, 400, "KIT_ERR_INVALID_ARGUMENT");
    assert.deepEqual(p.violations?.map((v) => v.field).sort(), ["capacity", "currency", "title"]);
    assert.ok(p.violations?.every((v) => v.message.length > 0 && !("rule" in v)));
  });
});

describe("requests the gateway rejects itself", () => {
  test("an unknown route is a 404 problem", async () => {
    const p = problem(await call("/v1/nothing/here"), 404, "GW_ERR_ROUTE_NOT_FOUND");
    assert.match(p.detail, /GET \/v1\/nothing\/here/);
    problem(await call("/v1/catalog/events/a/b"), 404, "GW_ERR_ROUTE_NOT_FOUND");
  });

  test("a known path with the wrong method is a 405 problem with Allow", async () => {
    const res = await call("/v1/catalog/events", { method: "DELETE" });
    problem(res, 405, "GW_ERR_METHOD_NOT_ALLOWED");
    assert.equal(res.headers.get("allow"), "GET, HEAD, POST");
    const one = await call("/v1/catalog/events/evt_1", { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    problem(one, 405, "GW_ERR_METHOD_NOT_ALLOWED");
    assert.equal(one.headers.get("allow"), "GET, HEAD");
    assert.equal(catalog.calls.length, 0);
  });

  test("malformed JSON is a 400 naming the parser's problem and position", async () => {
    const p = problem(await postJson('{"title": "x",'), 400, "GW_ERR_MALFORMED_JSON");
    assert.match(p.detail, /not valid JSON/);
    assert.match(p.detail, /position 14/);
    problem(await postJson(""), 400, "GW_ERR_MALFORMED_JSON");
  });

  test("an unknown field or a wrong type is a 400 naming the field", async () => {
    const unknown = problem(await postJson(JSON.stringify({ ...validEvent, colour: "red" })), 400, "GW_ERR_INVALID_FIELD");
    assert.match(unknown.detail, /colour/);
    assert.deepEqual(unknown.violations, [{ field: "colour", message: "unknown field" }]);
    const wrongType = problem(await postJson(JSON.stringify({ ...validEvent, capacity: "lots" })), 400, "GW_ERR_INVALID_FIELD");
    assert.deepEqual(wrongType.violations?.map((v) => v.field), ["capacity"]);
    const badQuery = problem(await call("/v1/catalog/events?page_size=ten"), 400, "GW_ERR_INVALID_FIELD");
    assert.deepEqual(badQuery.violations?.map((v) => v.field), ["page_size"]);
    const unknownQuery = problem(await call("/v1/catalog/events?sort=asc"), 400, "GW_ERR_INVALID_FIELD");
    assert.match(unknownQuery.detail, /"sort"/);
    assert.equal(catalog.calls.length, 0);
  });

  // The body arrives in pieces after the headers, as from a slow uplink: the
  // gateway must not answer and close while the client is still writing.
  async function sendSlowly(headers: string, pieces: Buffer[]): Promise<string> {
    const { port } = new URL(base);
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    const closed = once(socket, "close");
    socket.write(`POST /v1/catalog/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${headers}\r\n`);
    for (const [i, piece] of pieces.entries()) {
      await new Promise((r) => setTimeout(r, 30));
      assert.ok(!socket.destroyed, `the gateway closed the connection after ${i} of ${pieces.length} pieces`);
      await new Promise<void>((resolve, reject) => socket.write(piece, (e) => (e ? reject(e) : resolve())));
    }
    socket.end();
    await closed;
    return Buffer.concat(chunks).toString("latin1");
  }

  test("a client still sending a body over the limit gets the 413, not a reset", async () => {
    const size = 2 * 1024 * 1024;
    const response = await sendSlowly(`content-length: ${size}\r\n`, Array.from({ length: 8 }, () => Buffer.alloc(size / 8, 0x20)));
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /GW_ERR_PAYLOAD_TOO_LARGE/);
  });

  test("so does one sending a chunked body over the limit", async () => {
    const piece = Buffer.alloc(256 * 1024, 0x20);
    const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]);
    const response = await sendSlowly("transfer-encoding: chunked\r\n", [...Array.from({ length: 8 }, () => chunk), Buffer.from("0\r\n\r\n")]);
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /GW_ERR_PAYLOAD_TOO_LARGE/);
  });

  test("a body over the limit is a 413 problem", async () => {
    const p = problem(await postJson(JSON.stringify({ ...validEvent, description: "x".repeat(2 * 1024 * 1024) })), 413, "GW_ERR_PAYLOAD_TOO_LARGE");
    assert.match(p.detail, /1048576 bytes/);
  });

  test("a body that is not JSON is a 415 problem", async () => {
    problem(await postJson("title=x", "application/x-www-form-urlencoded"), 415, "GW_ERR_UNSUPPORTED_MEDIA_TYPE");
    problem(await postJson("hello", "text/plain"), 415, "GW_ERR_UNSUPPORTED_MEDIA_TYPE");
    assert.equal(catalog.calls.length, 0);
  });

  test("a badly encoded URL is a 400 problem, not a crash", async () => {
    problem(await call("/v1/catalog/events/%E0%A4%A"), 400, "GW_ERR_BAD_REQUEST");
  });
});

describe("upstream failures", () => {
  test("an unavailable service is a 503 problem with Retry-After", async () => {
    catalog.override(async () => {
      throw kitErrors.create("KIT_ERR_UNAVAILABLE", "no connection to catalog");
    });
    const res = await call("/v1/catalog/events");
    problem(res, 503, "KIT_ERR_UNAVAILABLE");
    assert.equal(res.headers.get("retry-after"), "1");
  });

  test("a plain Error from the invoker is a 502 that leaks nothing", async () => {
    catalog.override(async () => {
      throw new Error("ECONNREFUSED 10.1.2.3:7001 password=hunter2");
    });
    const p = problem(await call("/v1/catalog/events"), 502, "GW_ERR_UPSTREAM");
    assert.doesNotMatch(JSON.stringify(p), /10\.1\.2\.3|hunter2|ECONNREFUSED|at /);
  });

  test("an internal error from the service is a 500 whose detail stays hidden", async () => {
    catalog.override(async () => {
      throw new FlotillaError({ code: "KIT_ERR_INTERNAL", rpc: "internal", message: 'relation "events" does not exist' });
    });
    const p = problem(await call("/v1/catalog/events/evt_1"), 500, "KIT_ERR_INTERNAL");
    assert.equal(p.detail, "internal error");
    assert.ok(!("stack" in p));
  });

  test("a wrong message type from the invoker is a 502, not a garbled 200", async () => {
    catalog.override(async () => ({ $typeName: "flotilla.catalog.v1.Event" }) as never);
    problem(await call("/v1/catalog/events"), 502, "GW_ERR_UPSTREAM");
  });
});

describe("request ids and metadata", () => {
  test("a valid x-request-id is echoed and passed to the service with the trace context", async () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const res = await call("/v1/catalog/events", { headers: { "x-request-id": "app-42.retry_1", traceparent, tracestate: "a=1", "user-agent": "FlotillaApp/1.0" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-request-id"), "app-42.retry_1");
    const options = catalog.calls[0]!.options;
    assert.deepEqual(options.metadata, { "x-request-id": "app-42.retry_1", traceparent, tracestate: "a=1", "user-agent": "FlotillaApp/1.0" });
    assert.ok(options.deadline !== undefined && options.deadline > Date.now() && options.deadline <= Date.now() + 15_000);
    assert.ok(options.signal instanceof AbortSignal && !options.signal.aborted);
  });

  test("an unsafe x-request-id is replaced, also on error responses", async () => {
    const res = await call("/nowhere", { headers: { "x-request-id": "bad id\twith spaces" } });
    const id = res.headers.get("x-request-id") ?? "";
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal((res.body as Problem).instance, id);
  });
});
