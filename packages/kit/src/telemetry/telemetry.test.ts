import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { Registry } from "prom-client";
import type { SpanRecord } from "./log-span-exporter.ts";
import { createTelemetry } from "./telemetry.ts";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN = "00f067aa0ba902b7";

describe("createTelemetry", () => {
  it("injects a W3C traceparent naming the span", () => {
    const telemetry = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const span = telemetry.tracer.startSpan("work", {}, ROOT_CONTEXT);
    const metadata = telemetry.inject(trace.setSpan(ROOT_CONTEXT, span), {});
    span.end();
    assert.match(metadata.traceparent ?? "", TRACEPARENT);
    const { traceId, spanId } = span.spanContext();
    assert.equal(metadata.traceparent, `00-${traceId}-${spanId}-01`);
  });

  it("continues the trace named by incoming metadata, tracestate included", () => {
    const telemetry = createTelemetry({ serviceName: "catalog", exporter: "memory" });
    const parent = telemetry.extract({ traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`, tracestate: "vendor=abc" });
    const span = telemetry.tracer.startSpan("work", {}, parent);
    span.end();
    const [finished] = telemetry.spans();
    assert.equal(finished?.spanContext().traceId, PARENT_TRACE);
    assert.equal(finished?.parentSpanContext?.spanId, PARENT_SPAN);
    const next = telemetry.withSpan({}, span);
    assert.equal(next.tracestate, "vendor=abc");
  });

  for (const bad of ["garbage", `00-${"0".repeat(32)}-${PARENT_SPAN}-01`, `00-${PARENT_TRACE}-${"0".repeat(16)}-01`, `0-${PARENT_TRACE}-${PARENT_SPAN}-01`, ""]) {
    it(`ignores the malformed traceparent ${JSON.stringify(bad)}`, () => {
      const telemetry = createTelemetry({ serviceName: "catalog", exporter: "memory" });
      const parent = telemetry.extract({ traceparent: bad });
      assert.equal(trace.getSpanContext(parent), undefined);
      telemetry.tracer.startSpan("work", {}, parent).end();
      const [finished] = telemetry.spans();
      assert.equal(finished?.parentSpanContext, undefined);
      assert.notEqual(finished?.spanContext().traceId, PARENT_TRACE);
    });
  }

  it("replaces the trace headers of metadata without touching the rest or the original", () => {
    const telemetry = createTelemetry({ serviceName: "catalog" });
    const span = telemetry.tracer.startSpan("work", {}, ROOT_CONTEXT);
    const incoming = { traceparent: "garbage", tracestate: "stale=1", "x-request-id": "r1" };
    const next = telemetry.withSpan(incoming, span);
    assert.deepEqual(Object.keys(next).sort(), ["traceparent", "x-request-id"]);
    assert.equal(next.traceparent, `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    assert.equal(incoming.traceparent, "garbage");
  });

  it("keeps no spans with the none exporter but still propagates real ids", () => {
    const telemetry = createTelemetry({ serviceName: "catalog", exporter: "none" });
    const span = telemetry.tracer.startSpan("work", {}, ROOT_CONTEXT);
    span.end();
    assert.deepEqual(telemetry.spans(), []);
    assert.match(telemetry.withSpan({}, span).traceparent ?? "", TRACEPARENT);
    assert.notEqual(span.spanContext().traceId, "0".repeat(32));
  });

  it("writes one record per span with the log exporter", async () => {
    const records: SpanRecord[] = [];
    const telemetry = createTelemetry({ serviceName: "booking", exporter: "log", log: (record) => records.push(record) });
    const parent = telemetry.tracer.startSpan("parent", {}, ROOT_CONTEXT);
    telemetry.tracer.startSpan("child", {}, trace.setSpan(ROOT_CONTEXT, parent)).end();
    parent.end();
    await telemetry.shutdown();
    assert.deepEqual(
      records.map((r) => [r.name, r.service, r.traceId, r.parentSpanId]),
      [
        ["child", "booking", parent.spanContext().traceId, parent.spanContext().spanId],
        ["parent", "booking", parent.spanContext().traceId, undefined],
      ],
    );
  });

  it("names the service on every span", () => {
    const telemetry = createTelemetry({ serviceName: "ticketing", exporter: "memory" });
    telemetry.tracer.startSpan("work", {}, ROOT_CONTEXT).end();
    assert.equal(telemetry.spans()[0]?.attributes["service.name"], "ticketing");
  });

  it("gives two instances separate registries and span stores", async () => {
    const a = createTelemetry({ serviceName: "a", exporter: "memory" });
    const b = createTelemetry({ serviceName: "b", exporter: "memory" });
    assert.notEqual(a.registry, b.registry);
    a.metrics.startServer("a", "pkg.A/Get")("ok");
    a.tracer.startSpan("only-a", {}, ROOT_CONTEXT).end();
    assert.match(await a.registry.metrics(), /flotilla_rpc_server_requests_total\{service="a"/);
    assert.doesNotMatch(await b.registry.metrics(), /service="a"/);
    assert.equal(a.spans().length, 1);
    assert.equal(b.spans().length, 0);
  });

  it("lets the services of one process share a registry", async () => {
    const registry = new Registry();
    const a = createTelemetry({ serviceName: "a", registry });
    const b = createTelemetry({ serviceName: "b", registry });
    assert.equal(a.metrics, b.metrics);
    a.metrics.startServer("a", "pkg.A/Get")("ok");
    b.metrics.startServer("b", "pkg.B/Get")("ok");
    const text = await registry.metrics();
    assert.match(text, /flotilla_rpc_server_requests_total\{service="a",method="pkg.A\/Get",code="ok"\} 1/);
    assert.match(text, /flotilla_rpc_server_requests_total\{service="b",method="pkg.B\/Get",code="ok"\} 1/);
  });
});
