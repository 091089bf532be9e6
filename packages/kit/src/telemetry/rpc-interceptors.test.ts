import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { kitErrors } from "../errors/index.ts";
import type { CallContext, Metadata, UnaryFn } from "../transport/types.ts";
import { clientTelemetry, serverTelemetry } from "./rpc-interceptors.ts";
import { createTelemetry, type Telemetry } from "./telemetry.ts";

const GET_EVENT = "flotilla.catalog.v1.CatalogService/GetEvent";
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

function callContext(metadata: Metadata): CallContext {
  return {
    service: catalogV1.CatalogService,
    method: catalogV1.CatalogService.method.getEvent,
    deadline: undefined,
    metadata,
    signal: new AbortController().signal,
  };
}

const request = (eventId: string): MessageShape<DescMessage> => create(catalogV1.GetEventRequestSchema, { eventId });
const reply = (): MessageShape<DescMessage> => create(catalogV1.GetEventResponseSchema, {});

/** A served GetEvent behind the server interceptor, reached through the client helper. */
function wire(caller: Telemetry, callee: Telemetry, handler: UnaryFn) {
  const served = serverTelemetry(callee)(handler);
  const call = clientTelemetry(caller);
  return (eventId: string, metadata: Metadata = {}) =>
    call("catalog", GET_EVENT, metadata, (outgoing) => served(request(eventId), callContext(outgoing)));
}

describe("serverTelemetry and clientTelemetry", () => {
  it("put the client span and the server span in one trace, parent before child", async () => {
    const gateway = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const catalog = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    let seen: Metadata = {};
    const getEvent = wire(gateway, catalog, async (_input, ctx) => {
      seen = ctx.metadata;
      return reply();
    });
    await getEvent("e1", { "x-request-id": "r1" });

    const [client] = gateway.spans();
    const [server] = catalog.spans();
    assert.ok(client && server);
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(server.name, GET_EVENT);
    assert.equal(client.parentSpanContext, undefined);
    assert.equal(server.spanContext().traceId, client.spanContext().traceId);
    assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
    assert.deepEqual(server.attributes, {
      "service.name": "catalog",
      "rpc.system": "connect_rpc",
      "rpc.service": "flotilla.catalog.v1.CatalogService",
      "rpc.method": "GetEvent",
    });
    assert.equal(client.attributes["flotilla.upstream"], "catalog");
    // The handler sees its own SERVER span as the parent for onward calls.
    const [, traceId, spanId] = TRACEPARENT.exec(seen.traceparent ?? "") ?? [];
    assert.equal(traceId, server.spanContext().traceId);
    assert.equal(spanId, server.spanContext().spanId);
    assert.equal(seen["x-request-id"], "r1");
  });

  it("continues the trace when a handler forwards ctx.metadata to another call", async () => {
    const catalog = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const venues = createTelemetry({ serviceName: "venues", exporter: "memory" });
    const fromCatalog = wire(catalog, venues, async () => reply());
    const served = serverTelemetry(catalog)(async (input, ctx) => {
      await fromCatalog("v1", ctx.metadata);
      return input;
    });
    const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await served(request("e1"), callContext({ traceparent: parent }));

    const byKind = (kind: SpanKind) => catalog.spans().find((s) => s.kind === kind);
    const catalogServer = byKind(SpanKind.SERVER);
    const catalogClient = byKind(SpanKind.CLIENT);
    const [venuesServer] = venues.spans();
    assert.ok(catalogServer && catalogClient && venuesServer);
    const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for (const span of [catalogServer, catalogClient, venuesServer]) assert.equal(span.spanContext().traceId, trace);
    assert.equal(catalogServer.parentSpanContext?.spanId, "00f067aa0ba902b7");
    assert.equal(catalogClient.parentSpanContext?.spanId, catalogServer.spanContext().spanId);
    assert.equal(venuesServer.parentSpanContext?.spanId, catalogClient.spanContext().spanId);
  });

  it("starts a new trace when the incoming traceparent is malformed", async () => {
    const catalog = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const served = serverTelemetry(catalog)(async () => reply());
    await served(request("e1"), callContext({ traceparent: "00-zz-not-a-trace", tracestate: "stale=1" }));
    const [server] = catalog.spans();
    assert.equal(server?.parentSpanContext, undefined);
    assert.match(server?.spanContext().traceId ?? "", /^[0-9a-f]{32}$/);
  });

  it("rethrows the handler's error unchanged and records its code", async () => {
    const gateway = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const catalog = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const notFound = kitErrors.create("KIT_ERR_UNIMPLEMENTED", "nope");
    const getEvent = wire(gateway, catalog, async () => {
      throw notFound;
    });
    await assert.rejects(getEvent("e1"), (error) => error === notFound);
    const [server] = catalog.spans();
    const [client] = gateway.spans();
    assert.equal(server?.attributes["rpc.connect_rpc.error_code"], "unimplemented");
    assert.equal(server?.attributes["flotilla.error_code"], "KIT_ERR_UNIMPLEMENTED");
    assert.equal(server?.status.code, SpanStatusCode.ERROR);
    assert.equal(client?.status.code, SpanStatusCode.ERROR);
  });

  it("leaves a server span unmarked for a client-fault code but marks the client span", async () => {
    const gateway = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const catalog = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const getEvent = wire(gateway, catalog, async () => {
      throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "bad id");
    });
    await assert.rejects(getEvent("e1"));
    assert.equal(catalog.spans()[0]?.status.code, SpanStatusCode.UNSET);
    assert.equal(catalog.spans()[0]?.attributes["rpc.connect_rpc.error_code"], "invalid_argument");
    assert.equal(gateway.spans()[0]?.status.code, SpanStatusCode.ERROR);
  });

  it("counts ok and failing calls per method and code on both sides", async () => {
    const gateway = createTelemetry({ serviceName: "gateway" });
    const catalog = createTelemetry({ serviceName: "catalog" });
    const getEvent = wire(gateway, catalog, async (input) => {
      const { eventId } = input as MessageShape<typeof catalogV1.GetEventRequestSchema>;
      if (eventId === "missing") throw kitErrors.create("KIT_ERR_NO_INSTANCE", "gone");
      if (eventId === "boom") throw new Error("a bug");
      return reply();
    });
    for (const id of ["a", "b", "c"]) await getEvent(id);
    for (const id of ["missing", "missing", "boom"]) await assert.rejects(getEvent(id));

    const server = await catalog.registry.metrics();
    const m = `service="catalog",method="${GET_EVENT}"`;
    assert.ok(server.includes(`flotilla_rpc_server_requests_total{${m},code="ok"} 3\n`), server);
    assert.ok(server.includes(`flotilla_rpc_server_requests_total{${m},code="unavailable"} 2\n`));
    assert.ok(server.includes(`flotilla_rpc_server_requests_total{${m},code="internal"} 1\n`));
    assert.ok(server.includes(`flotilla_rpc_server_duration_seconds_count{${m}} 6\n`));
    assert.ok(server.includes(`flotilla_rpc_server_duration_seconds_bucket{le="10",${m}} 6\n`));
    assert.ok(server.includes(`flotilla_rpc_server_in_flight{${m}} 0\n`));
    assert.doesNotMatch(server, /flotilla_rpc_client_requests_total\{/);

    const client = await gateway.registry.metrics();
    const c = `service="gateway",upstream="catalog",method="${GET_EVENT}"`;
    assert.ok(client.includes(`flotilla_rpc_client_requests_total{${c},code="ok"} 3\n`), client);
    assert.ok(client.includes(`flotilla_rpc_client_requests_total{${c},code="unavailable"} 2\n`));
    assert.ok(client.includes(`flotilla_rpc_client_requests_total{${c},code="internal"} 1\n`));
    assert.ok(client.includes(`flotilla_rpc_client_duration_seconds_count{${c}} 6\n`));
    assert.ok(client.includes(`flotilla_rpc_client_in_flight{${c}} 0\n`));
  });

  it("counts a call as in flight while the handler runs", async () => {
    const catalog = createTelemetry({ serviceName: "catalog" });
    let release = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const served = serverTelemetry(catalog)(async () => {
      await blocked;
      return reply();
    });
    const pending = served(request("e1"), callContext({}));
    const gauge = async () => (await catalog.metrics.serverInFlight.get()).values.find((v) => v.labels.method === GET_EVENT)?.value;
    assert.equal(await gauge(), 1);
    release();
    await pending;
    assert.equal(await gauge(), 0);
  });
});
