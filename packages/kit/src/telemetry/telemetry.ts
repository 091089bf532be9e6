import { type Context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, type Span, type Tracer, trace } from "@opentelemetry/api";
import { TRACE_PARENT_HEADER, TRACE_STATE_HEADER, W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Registry } from "prom-client";
import type { Metadata } from "../transport/types.ts";
import { LogSpanExporter, type SpanRecord, writeJsonLine } from "./log-span-exporter.ts";
import { type RpcMetrics, rpcMetrics } from "./rpc-metrics.ts";

/** Where finished spans go. */
export const TraceExporter = {
  /** Nowhere: spans still get real ids, so trace context still propagates. */
  none: "none",
  /** Kept in memory and read back with `spans()`; for tests. */
  memory: "memory",
  /** One JSON record per span through `log` (stdout by default). */
  log: "log",
} as const;
export type TraceExporter = (typeof TraceExporter)[keyof typeof TraceExporter];

export interface TelemetryOptions {
  serviceName: string;
  /** Defaults to `none`. */
  exporter?: TraceExporter;
  /** Share one registry between the services of an embedded process; a new one otherwise. */
  registry?: Registry;
  /** Receives span records with the `log` exporter; defaults to JSON lines on stdout. */
  log?: (record: SpanRecord) => void;
}

/**
 * Tracing and metrics for one service. Nothing is registered globally (no
 * global tracer provider, propagator or context manager), so several services
 * in one process each have their own: parents are passed explicitly as a
 * `Context` built from call metadata.
 *
 *   const telemetry = createTelemetry({ serviceName: "catalog", exporter: "memory" });
 *   const parent = telemetry.extract(ctx.metadata);
 *   const span = telemetry.tracer.startSpan("load", {}, parent);
 */
export interface Telemetry {
  readonly serviceName: string;
  readonly tracer: Tracer;
  readonly metrics: RpcMetrics;
  readonly registry: Registry;
  /** The trace context carried by `traceparent`/`tracestate` in `metadata`; ROOT_CONTEXT if absent or malformed. */
  extract(metadata: Metadata): Context;
  /** Writes the span context of `context` into `metadata` as `traceparent`/`tracestate`; returns `metadata`. */
  inject(context: Context, metadata: Metadata): Metadata;
  /** A copy of `metadata` whose trace headers name `span` as the parent of the next hop. */
  withSpan(metadata: Metadata, span: Span): Metadata;
  /** Finished spans, with the `memory` exporter only. */
  spans(): ReadableSpan[];
  /** Exports spans still buffered. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

// service.name belongs on the OTel Resource, but @opentelemetry/resources is not a
// declared dependency of the kit; until it is, every span carries it as an attribute.
function serviceNameProcessor(serviceName: string): SpanProcessor {
  return {
    onStart: (span) => void span.setAttribute("service.name", serviceName),
    onEnd: () => {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

export function createTelemetry(options: TelemetryOptions): Telemetry {
  const { serviceName } = options;
  const exporter = options.exporter ?? TraceExporter.none;
  const memory = exporter === TraceExporter.memory ? new InMemorySpanExporter() : undefined;
  const spanProcessors: SpanProcessor[] = [serviceNameProcessor(serviceName)];
  // Memory exports synchronously on span end, so tests can read spans at once.
  if (memory !== undefined) spanProcessors.push(new SimpleSpanProcessor(memory));
  if (exporter === TraceExporter.log) {
    spanProcessors.push(new BatchSpanProcessor(new LogSpanExporter(serviceName, options.log ?? writeJsonLine)));
  }
  const provider = new BasicTracerProvider({ spanProcessors });
  const tracer = provider.getTracer("@flotilla/kit");
  const propagator = new W3CTraceContextPropagator();
  const registry = options.registry ?? new Registry();

  const inject = (context: Context, metadata: Metadata): Metadata => {
    propagator.inject(context, metadata, defaultTextMapSetter);
    return metadata;
  };

  return {
    serviceName,
    tracer,
    metrics: rpcMetrics(registry),
    registry,
    extract: (metadata) => propagator.extract(ROOT_CONTEXT, metadata, defaultTextMapGetter),
    inject,
    withSpan(metadata, span) {
      // Drop the incoming headers first: a stale tracestate must not ride along with a new traceparent.
      const { [TRACE_PARENT_HEADER]: _parent, [TRACE_STATE_HEADER]: _state, ...rest } = metadata;
      return inject(trace.setSpan(ROOT_CONTEXT, span), rest);
    },
    spans: () => memory?.getFinishedSpans() ?? [],
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
