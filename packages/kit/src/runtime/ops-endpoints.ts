// /livez, /readyz and /metrics, answered the same way by every Flotilla process.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry as MetricsRegistry } from "prom-client";

export interface OpsState {
  /** False while starting and once draining: load balancers and the registry stop sending. */
  ready(): boolean;
  metrics: MetricsRegistry;
}

/** Answers an ops path and returns true, or returns false for any other path. */
export function handleOps(req: IncomingMessage, res: ServerResponse, state: OpsState): boolean {
  const path = req.url?.split("?", 1)[0];
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  if (path === "/livez") {
    json(res, 200, { status: "ok" });
    return true;
  }
  if (path === "/readyz") {
    const ready = state.ready();
    json(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready" });
    return true;
  }
  if (path === "/metrics") {
    state.metrics.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": state.metrics.contentType });
        res.end(text);
      },
      () => json(res, 500, { status: "metrics unavailable" }),
    );
    return true;
  }
  return false;
}

/**
 * A listener for a port of its own that answers the ops paths and nothing
 * else: under mTLS, Kubernetes probes and Prometheus hold no client
 * certificate, and the service's own port would refuse them.
 */
export function opsOnlyListener(state: OpsState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (handleOps(req, res, state)) return;
    const body = JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, detail: "this port answers GET /livez, /readyz and /metrics only" });
    res.writeHead(404, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}
