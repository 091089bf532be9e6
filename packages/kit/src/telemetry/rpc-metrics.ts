import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RpcCode } from "../errors/index.ts";

/** Seconds; covers an in-process call (~0.5 ms) up to a slow upstream at its 10 s deadline. */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The `code` label: "ok" or the RPC code of the error. */
export type CallCode = "ok" | RpcCode;

/** Records the outcome of one call started with `startServer`/`startClient`. */
export type FinishCall = (code: CallCode) => void;

/**
 * RED metrics (rate, errors, duration) for RPC on both sides of a call and
 * for the gateway's HTTP routes. Label values must come from closed sets:
 * `service`/`upstream` are service names, `method` is `<package.Service>/<Method>`,
 * `route` is the route template (`/v1/events/:id`), never the raw URL.
 */
export interface RpcMetrics {
  readonly serverRequests: Counter<"service" | "method" | "code">;
  readonly serverDuration: Histogram<"service" | "method">;
  readonly serverInFlight: Gauge<"service" | "method">;
  readonly clientRequests: Counter<"service" | "upstream" | "method" | "code">;
  readonly clientDuration: Histogram<"service" | "upstream" | "method">;
  readonly clientInFlight: Gauge<"service" | "upstream" | "method">;
  readonly httpRequests: Counter<"route" | "method" | "status">;
  readonly httpDuration: Histogram<"route" | "method">;
  /** Counts a served call as in flight; the returned function records its code and duration. */
  startServer(service: string, method: string): FinishCall;
  /** The same for an outgoing call; `service` is the caller, `upstream` the called service. */
  startClient(service: string, upstream: string, method: string): FinishCall;
  observeHttp(route: string, method: string, status: number, seconds: number): void;
}

// A registry may be shared by several services of one embedded process, and
// prom-client refuses a second metric of the same name: one set per registry.
const byRegistry = new WeakMap<Registry, RpcMetrics>();

/** The RED metrics of `registry`, created (with the process's default metrics) on first use. */
export function rpcMetrics(registry: Registry): RpcMetrics {
  const existing = byRegistry.get(registry);
  if (existing !== undefined) return existing;
  // The caller may have collected default metrics on this registry already.
  if (registry.getSingleMetric("process_cpu_user_seconds_total") === undefined) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buckets = [...DURATION_BUCKETS];
  const serverRequests = new Counter({
    name: "flotilla_rpc_server_requests_total",
    help: "RPC calls served, by result code.",
    labelNames: ["service", "method", "code"] as const,
    registers,
  });
  const serverDuration = new Histogram({
    name: "flotilla_rpc_server_duration_seconds",
    help: "Time to serve an RPC call.",
    labelNames: ["service", "method"] as const,
    buckets,
    registers,
  });
  const serverInFlight = new Gauge({
    name: "flotilla_rpc_server_in_flight",
    help: "RPC calls being served now.",
    labelNames: ["service", "method"] as const,
    registers,
  });
  const clientRequests = new Counter({
    name: "flotilla_rpc_client_requests_total",
    help: "RPC calls made to an upstream, by result code.",
    labelNames: ["service", "upstream", "method", "code"] as const,
    registers,
  });
  const clientDuration = new Histogram({
    name: "flotilla_rpc_client_duration_seconds",
    help: "Time for an upstream to answer an RPC call, as the caller sees it.",
    labelNames: ["service", "upstream", "method"] as const,
    buckets,
    registers,
  });
  const clientInFlight = new Gauge({
    name: "flotilla_rpc_client_in_flight",
    help: "RPC calls waiting for an upstream now.",
    labelNames: ["service", "upstream", "method"] as const,
    registers,
  });
  const httpRequests = new Counter({
    name: "flotilla_http_requests_total",
    help: "HTTP requests answered by the gateway, by route template and status.",
    labelNames: ["route", "method", "status"] as const,
    registers,
  });
  const httpDuration = new Histogram({
    name: "flotilla_http_request_duration_seconds",
    help: "Time for the gateway to answer an HTTP request.",
    labelNames: ["route", "method"] as const,
    buckets,
    registers,
  });

  const metrics: RpcMetrics = {
    serverRequests,
    serverDuration,
    serverInFlight,
    clientRequests,
    clientDuration,
    clientInFlight,
    httpRequests,
    httpDuration,
    startServer(service, method) {
      const labels = { service, method };
      serverInFlight.inc(labels);
      const started = performance.now();
      return (code) => {
        serverInFlight.dec(labels);
        serverDuration.observe(labels, (performance.now() - started) / 1000);
        serverRequests.inc({ service, method, code });
      };
    },
    startClient(service, upstream, method) {
      const labels = { service, upstream, method };
      clientInFlight.inc(labels);
      const started = performance.now();
      return (code) => {
        clientInFlight.dec(labels);
        clientDuration.observe(labels, (performance.now() - started) / 1000);
        clientRequests.inc({ service, upstream, method, code });
      };
    },
    observeHttp(route, method, status, seconds) {
      httpRequests.inc({ route, method, status: String(status) });
      httpDuration.observe({ route, method }, seconds);
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
