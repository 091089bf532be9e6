// Fallbacks while a service is down, driven by the kit client's own breaker.
import assert from "node:assert/strict";
import { after, beforeEach, describe, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import { kitErrors } from "@flotilla/kit";
import { MemoryCache, type Transport, Upstream } from "@flotilla/kit/internal";
import { fakeCatalog } from "../../test/support/fake-catalog.ts";
import { send, startGateway } from "../../test/support/traffic-gateway.ts";
import type { Invoke } from "../types.ts";
import { type BreakerSettings, breaker } from "./breaker.ts";
import { responseCache } from "./response-cache.ts";

describe("breaker and fallback", async () => {
  // The real client: its cockatiel breaker opens after 2 failed calls.
  const catalog = fakeCatalog();
  let down = false;
  let sent = 0;
  const transport: Transport = {
    schemes: ["test:"],
    async unary(_target, method, input, options) {
      sent++;
      if (down) throw kitErrors.create("KIT_ERR_UNAVAILABLE", "connection refused");
      return (await catalog.invoke(catalogV1.CatalogService, method, input, { metadata: options.metadata ?? {} })) as never;
    },
    async close() {},
  };
  const instance = { id: "catalog-1", service: "catalog", version: "1.0.0", address: "test://catalog-1", labels: {}, startedAt: 0 };
  const upstream = new Upstream(catalogV1.CatalogService, {
    instances: () => [instance],
    transports: transport,
    policy: { maxRetries: 0, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } },
  });
  const invoke: Invoke = (_service, method, input, options) => upstream.call(method, input, options);
  let clock = Date.now();
  const responses = responseCache({ cache: new MemoryCache(), now: () => clock });
  let settings: BreakerSettings = { retryAfterSec: 7, fallbacks: {} };
  const { app, base } = await startGateway(invoke, [responses.plugin, breaker({ settings: () => settings, stale: responses.stale })]);
  after(() => app.close());
  beforeEach(() => {
    sent = 0;
  });

  test("while the service works, errors pass through untouched", async () => {
    const missing = await send(base, "/v1/catalog/events/nope");
    assert.equal(missing.status, 404);
    assert.equal((missing.json as { code: string }).code, "CATALOG_ERR_EVENT_NOT_FOUND");
    assert.equal((await send(base, "/v1/catalog/events/evt_1")).status, 200);
  });

  test("once the client's breaker opens: stale cache, else the declared fallback, else 503 with Retry-After, without calling the service", async () => {
    const fresh = await send(base, "/v1/catalog/events/evt_1");
    clock += 60_000; // past its TTL, within the stale window
    down = true;
    // Two failures open the breaker; meanwhile the stale copy is served.
    for (let i = 0; i < 2; i++) {
      const res = await send(base, "/v1/catalog/events/evt_1");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-cache"), "STALE");
      assert.equal(res.text, fresh.text);
    }
    assert.equal(upstream.breakerState, "open");
    sent = 0;
    const stale = await send(base, "/v1/catalog/events/evt_1");
    assert.equal(stale.headers.get("x-cache"), "STALE");
    assert.equal(stale.headers.get("cache-control"), "public, max-age=0");

    // Nothing cached for this one: 503 problem, at once.
    const cut = await send(base, "/v1/catalog/events/evt_3");
    assert.equal(cut.status, 503);
    assert.equal((cut.json as { code: string }).code, "GW_ERR_SERVICE_UNAVAILABLE");
    assert.equal(cut.headers.get("retry-after"), "7");
    assert.match(cut.headers.get("content-type") ?? "", /^application\/problem\+json/);

    // A declared fallback, changed at runtime.
    settings = { retryAfterSec: 7, fallbacks: { CatalogService_ListEvents: { body: { events: [], nextPageToken: "" } } } };
    const fallback = await send(base, "/v1/catalog/events?city=Nowhere");
    assert.equal(fallback.status, 200);
    assert.equal(fallback.headers.get("x-flotilla-fallback"), "true");
    assert.deepEqual(fallback.json, { events: [], nextPageToken: "" });
    // The open breaker kept every call off the wire.
    assert.equal(sent, 0);
  });
});
