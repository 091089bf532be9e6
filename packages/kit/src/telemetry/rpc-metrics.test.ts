import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { collectDefaultMetrics, Registry } from "prom-client";
import { DURATION_BUCKETS, rpcMetrics } from "./rpc-metrics.ts";

describe("rpcMetrics", () => {
  it("creates one set of metrics per registry", () => {
    const registry = new Registry();
    assert.equal(rpcMetrics(registry), rpcMetrics(registry));
    assert.notEqual(rpcMetrics(registry), rpcMetrics(new Registry()));
  });

  it("collects the process's default metrics once, even if the caller already did", async () => {
    const fresh = new Registry();
    rpcMetrics(fresh);
    const text = await fresh.metrics();
    assert.equal(text.match(/^# TYPE process_cpu_user_seconds_total /gm)?.length, 1);
    assert.match(text, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    assert.match(text, /^# TYPE process_resident_memory_bytes gauge$/m);

    const collected = new Registry();
    collectDefaultMetrics({ register: collected });
    assert.doesNotThrow(() => rpcMetrics(collected));
  });

  it("buckets durations from half a millisecond to ten seconds", async () => {
    const registry = new Registry();
    const metrics = rpcMetrics(registry);
    metrics.startServer("catalog", "pkg.S/M")("ok");
    metrics.observeHttp("/v1/x", "GET", 200, 3);
    const text = await registry.metrics();
    const les = [...text.matchAll(/^flotilla_rpc_server_duration_seconds_bucket\{le="([^"]+)"/gm)].map((m) => m[1]);
    assert.deepEqual(les, [...DURATION_BUCKETS.map(String), "+Inf"]);
    assert.equal(DURATION_BUCKETS[0], 0.0005);
    assert.equal(DURATION_BUCKETS.at(-1), 10);
    // 3 s falls in the 5 s bucket and not the 2.5 s one.
    assert.ok(text.includes('flotilla_http_request_duration_seconds_bucket{le="2.5",route="/v1/x",method="GET"} 0\n'));
    assert.ok(text.includes('flotilla_http_request_duration_seconds_bucket{le="5",route="/v1/x",method="GET"} 1\n'));
  });

  it("keeps in-flight calls per method until each finishes", async () => {
    const metrics = rpcMetrics(new Registry());
    const value = async (method: string) => (await metrics.clientInFlight.get()).values.find((v) => v.labels.method === method)?.value;
    const first = metrics.startClient("gateway", "catalog", "pkg.S/A");
    const second = metrics.startClient("gateway", "catalog", "pkg.S/A");
    const other = metrics.startClient("gateway", "catalog", "pkg.S/B");
    assert.equal(await value("pkg.S/A"), 2);
    first("ok");
    second("unavailable");
    assert.equal(await value("pkg.S/A"), 0);
    assert.equal(await value("pkg.S/B"), 1);
    other("ok");
    const counts = (await metrics.clientRequests.get()).values.map((v) => [v.labels.method, v.labels.code, v.value]);
    assert.deepEqual(counts, [
      ["pkg.S/A", "ok", 1],
      ["pkg.S/A", "unavailable", 1],
      ["pkg.S/B", "ok", 1],
    ]);
  });
});
