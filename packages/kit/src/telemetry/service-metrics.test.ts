import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { metricsText } from "./http-telemetry.ts";
import { serviceMetrics } from "./service-metrics.ts";

test("a service's gauges are read at scrape time and its counters count, under flotilla_<service>_", async () => {
  const registry = new Registry();
  const metrics = serviceMetrics(registry, "messaging");
  let open = 3;
  metrics.gauge("realtime_connections", "Sockets open.", () => open);
  const closes = metrics.counter("realtime_closes_total", "Sockets closed by the server.", ["code"]);
  const sweeps = metrics.counter("presence_sweeps_total", "Dead replicas swept.");
  closes.inc({ code: "4008" });
  closes.inc({ code: "4008" }, 2);
  sweeps.inc();
  open = 5;
  const text = await metricsText(registry);
  assert.match(text, /^flotilla_messaging_realtime_connections 5$/m);
  assert.match(text, /^flotilla_messaging_realtime_closes_total\{code="4008"\} 3$/m);
  assert.match(text, /^flotilla_messaging_presence_sweeps_total 1$/m);
});

test("two services share a registry without colliding; a service hosted again replaces its own metrics", async () => {
  const registry = new Registry();
  serviceMetrics(registry, "messaging").gauge("pending", "p", () => 1);
  serviceMetrics(registry, "notifications").gauge("pending", "p", () => 2);
  serviceMetrics(registry, "messaging").gauge("pending", "p", () => 7);
  const text = await metricsText(registry);
  assert.match(text, /^flotilla_messaging_pending 7$/m);
  assert.match(text, /^flotilla_notifications_pending 2$/m);
});

test("a metric name that Prometheus would refuse is a typed error", () => {
  const metrics = serviceMetrics(new Registry(), "catalog");
  for (const bad of ["", "Upper", "with-dash", "1st", "a b"]) {
    assert.throws(() => metrics.gauge(bad, "h", () => 0), { code: "KIT_ERR_INVALID_ARGUMENT" });
  }
});
