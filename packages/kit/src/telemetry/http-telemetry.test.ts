import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import Fastify, { type FastifyInstance } from "fastify";
import { METRICS_CONTENT_TYPE, fastifyTelemetry, metricsText, requestSpan } from "./http-telemetry.ts";
import { clientTelemetry, serverTelemetry } from "./rpc-interceptors.ts";
import { createTelemetry, type Telemetry } from "./telemetry.ts";

const GET_EVENT = "flotilla.catalog.v1.CatalogService/GetEvent";

/** A tiny gateway whose one real route calls catalog's GetEvent through the RPC telemetry. */
function gatewayApp(gateway: Telemetry, catalog: Telemetry): FastifyInstance {
  const app = Fastify();
  fastifyTelemetry(gateway)(app);
  const served = serverTelemetry(catalog)(async () => create(catalogV1.GetEventResponseSchema, {}));
  const call = clientTelemetry(gateway);
  app.get<{ Params: { id: string } }>("/v1/events/:id", async (request) => {
    requestSpan(request)?.setAttribute("app.event_id", request.params.id);
    await call("catalog", GET_EVENT, request.traceMetadata, (metadata) =>
      served(create(catalogV1.GetEventRequestSchema, { eventId: request.params.id }), {
        service: catalogV1.CatalogService,
        method: catalogV1.CatalogService.method.getEvent,
        deadline: undefined,
        metadata,
        signal: request.signal,
      }),
    );
    return { id: request.params.id };
  });
  app.get("/v1/boom", async () => {
    throw new Error("a bug");
  });
  return app;
}

describe("fastifyTelemetry", () => {
  it("puts the gateway span, the client span and the server span in one trace", async () => {
    const gateway = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const catalog = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const app = gatewayApp(gateway, catalog);
    try {
      const res = await app.inject({ method: "GET", url: "/v1/events/42?lang=en" });
      assert.equal(res.statusCode, 200);
    } finally {
      await app.close();
    }
    const http = gateway.spans().find((s) => s.kind === SpanKind.SERVER);
    const client = gateway.spans().find((s) => s.kind === SpanKind.CLIENT);
    const [server] = catalog.spans();
    assert.ok(http && client && server);
    assert.equal(http.name, "HTTP GET /v1/events/:id");
    assert.equal(http.parentSpanContext, undefined);
    assert.equal(http.attributes["http.route"], "/v1/events/:id");
    assert.equal(http.attributes["url.path"], "/v1/events/42");
    assert.equal(http.attributes["http.status_code"], 200);
    assert.equal(http.attributes["app.event_id"], "42");
    const traceId = http.spanContext().traceId;
    assert.equal(client.spanContext().traceId, traceId);
    assert.equal(server.spanContext().traceId, traceId);
    assert.equal(client.parentSpanContext?.spanId, http.spanContext().spanId);
    assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
  });

  it("continues a trace started by the mobile app", async () => {
    const gateway = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const app = gatewayApp(gateway, createTelemetry({ serviceName: "catalog" }));
    try {
      await app.inject({
        method: "GET",
        url: "/v1/events/1",
        headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
      });
      await app.inject({ method: "GET", url: "/v1/events/2", headers: { traceparent: "not-a-traceparent" } });
    } finally {
      await app.close();
    }
    const [first, second] = gateway.spans().filter((s) => s.kind === SpanKind.SERVER);
    assert.equal(first?.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(first?.parentSpanContext?.spanId, "00f067aa0ba902b7");
    assert.equal(second?.parentSpanContext, undefined);
    assert.notEqual(second?.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("labels metrics with the route template, never the raw URL", async () => {
    const gateway = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const app = gatewayApp(gateway, createTelemetry({ serviceName: "catalog" }));
    try {
      for (const id of ["1", "2", "3"]) await app.inject({ method: "GET", url: `/v1/events/${id}` });
      assert.equal((await app.inject({ method: "GET", url: "/v1/boom" })).statusCode, 500);
      assert.equal((await app.inject({ method: "GET", url: "/v1/nothing/here" })).statusCode, 404);
    } finally {
      await app.close();
    }
    const text = await metricsText(gateway.registry);
    assert.ok(text.includes('flotilla_http_requests_total{route="/v1/events/:id",method="GET",status="200"} 3\n'), text);
    assert.ok(text.includes('flotilla_http_requests_total{route="/v1/boom",method="GET",status="500"} 1\n'));
    assert.ok(text.includes('flotilla_http_requests_total{route="unmatched",method="GET",status="404"} 1\n'));
    assert.ok(text.includes('flotilla_http_request_duration_seconds_count{route="/v1/events/:id",method="GET"} 3\n'));
    assert.doesNotMatch(text, /\/v1\/events\/1|\/v1\/nothing/);
    assert.ok(text.includes(`flotilla_rpc_client_requests_total{service="gateway",upstream="catalog",method="${GET_EVENT}",code="ok"} 3\n`));

    const servers = gateway.spans().filter((s) => s.kind === SpanKind.SERVER);
    assert.equal(servers.length, 5);
    const boom = servers.find((s) => s.name === "HTTP GET /v1/boom");
    assert.equal(boom?.status.code, SpanStatusCode.ERROR);
    assert.equal(boom?.attributes["flotilla.error_code"], "KIT_ERR_INTERNAL");
    assert.equal(boom?.events[0]?.name, "exception");
    const missing = servers.find((s) => s.name === "HTTP GET unmatched");
    assert.equal(missing?.status.code, SpanStatusCode.UNSET);
    assert.equal(missing?.attributes["http.status_code"], 404);
  });

  it("serves the metrics text in the Prometheus format", async () => {
    const telemetry = createTelemetry({ serviceName: "gateway" });
    assert.match(METRICS_CONTENT_TYPE, /^text\/plain; version=0\.0\.4/);
    const text = await metricsText(telemetry.registry);
    assert.match(text, /^# TYPE flotilla_http_requests_total counter$/m);
    assert.match(text, /^# TYPE process_cpu_user_seconds_total counter$/m);
  });

  it("traces each request once when applied twice", async () => {
    const app = Fastify();
    const telemetry = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    fastifyTelemetry(telemetry)(app);
    assert.doesNotThrow(() => fastifyTelemetry(telemetry)(app));
    app.get("/ping", async (request) => request.traceMetadata);
    try {
      const res = await app.inject({ method: "GET", url: "/ping" });
      assert.equal(telemetry.spans().length, 1);
      const [span] = telemetry.spans();
      assert.equal(res.json().traceparent, `00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`);
    } finally {
      await app.close();
    }
  });

  it("records a client that hangs up before the response as 499", async () => {
    const telemetry = createTelemetry({ serviceName: "gateway", exporter: "memory" });
    const app = Fastify();
    fastifyTelemetry(telemetry)(app);
    let release = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived = () => {};
    const handled = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    app.get("/slow", async () => {
      arrived();
      await blocked;
      return { late: true };
    });
    try {
      const address = await app.listen({ host: "127.0.0.1", port: 0 });
      const abort = new AbortController();
      const pending = fetch(`${address}/slow`, { signal: abort.signal }).catch(() => undefined);
      await handled;
      abort.abort();
      await pending;
      // Bounded wait: the span ends on the socket's close, a moment after the abort.
      for (let i = 0; i < 400 && telemetry.spans().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      release();
    } finally {
      release();
      await app.close();
    }
    const [span] = telemetry.spans();
    assert.equal(span?.attributes["http.status_code"], 499);
    const text = await metricsText(telemetry.registry);
    assert.ok(text.includes('flotilla_http_requests_total{route="/slow",method="GET",status="499"} 1\n'), text);
    assert.doesNotMatch(text, /route="\/slow",method="GET",status="200"/);
  });
});
