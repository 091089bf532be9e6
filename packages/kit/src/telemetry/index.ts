export { type AnyFastify, CLIENT_CLOSED_STATUS, fastifyTelemetry, METRICS_CONTENT_TYPE, metricsText, requestSpan, UNMATCHED_ROUTE } from "./http-telemetry.ts";
export type { SpanRecord } from "./log-span-exporter.ts";
export { type ClientTelemetry, clientTelemetry, serverTelemetry } from "./rpc-interceptors.ts";
export { type CallCode, DURATION_BUCKETS, type FinishCall, type RpcMetrics, rpcMetrics } from "./rpc-metrics.ts";
export { createTelemetry, type Telemetry, type TelemetryOptions, TraceExporter } from "./telemetry.ts";
export { type ServiceCounter, type ServiceMetrics, serviceMetrics } from "./service-metrics.ts";
