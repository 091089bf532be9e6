// The response cache through real HTTP, on the in-process cache.
import assert from "node:assert/strict";
import { after, beforeEach, describe, test } from "node:test";
import { MemoryCache } from "@flotilla/kit/internal";
import { fakeCatalog } from "../../test/support/fake-catalog.ts";
import { send, startGateway } from "../../test/support/traffic-gateway.ts";
import { cacheInvalidationRules, defaultResponseCache, responseCache } from "./response-cache.ts";
import { invalidateOn } from "@flotilla/kit";

describe("response cache", async () => {
  const catalog = fakeCatalog();
  const cache = new MemoryCache();
  let clock = Date.now();
  const responses = responseCache({ cache, now: () => clock });
  const { app, base } = await startGateway(catalog.invoke, [responses.plugin]);
  after(() => app.close());
  beforeEach(() => {
    catalog.reset();
    clock += 3_600_000; // every test starts with nothing fresh
  });
  const gets = () => catalog.calls.length;

  test("a cacheable GET is stored on the first call and answered from the cache after, with ETag and Cache-Control", async () => {
    const first = await send(base, "/v1/catalog/events/evt_1");
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-cache"), "MISS");
    assert.equal(first.headers.get("cache-control"), "public, max-age=10");
    const etag = first.headers.get("etag");
    assert.match(etag ?? "", /^"[A-Za-z0-9_-]{27}"$/);
    clock += 4_000;
    const second = await send(base, "/v1/catalog/events/evt_1");
    assert.equal(second.status, 200);
    assert.equal(second.headers.get("x-cache"), "HIT");
    assert.equal(second.headers.get("etag"), etag);
    assert.equal(second.headers.get("age"), "4");
    assert.equal(second.headers.get("cache-control"), "public, max-age=6");
    assert.equal(second.text, first.text);
    assert.equal(gets(), 1);
    // Another URL is another entry; after the TTL the service is asked again.
    assert.equal((await send(base, "/v1/catalog/events/evt_2")).headers.get("x-cache"), "MISS");
    clock += 7_000;
    assert.equal((await send(base, "/v1/catalog/events/evt_1")).headers.get("x-cache"), "MISS");
    assert.equal(gets(), 3);
  });

  test("If-None-Match with the current ETag is a 304 without a body", async () => {
    const first = await send(base, "/v1/catalog/events?city=Lisbon");
    const etag = first.headers.get("etag") ?? "";
    const hit = await send(base, "/v1/catalog/events?city=Lisbon", { headers: { "if-none-match": `"other", W/${etag}` } });
    assert.equal(hit.status, 304);
    assert.equal(hit.text, "");
    assert.equal(hit.headers.get("etag"), etag);
    // Also on a miss: the service answers, the client still gets 304 for an unchanged body.
    clock += 60_000;
    const miss = await send(base, "/v1/catalog/events?city=Lisbon", { headers: { "if-none-match": etag } });
    assert.equal(miss.status, 304);
    assert.equal((await send(base, "/v1/catalog/events?city=Lisbon", { headers: { "if-none-match": '"stale"' } })).status, 200);
  });

  test("errors and unsafe methods are not cached", async () => {
    assert.equal((await send(base, "/v1/catalog/events/nope")).status, 404);
    assert.equal((await send(base, "/v1/catalog/events/nope")).status, 404);
    assert.equal(gets(), 2);
    const post = await send(base, "/v1/catalog/events", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(post.headers.get("x-cache"), null);
  });

  test("the service's event invalidates its cached routes (kit invalidateOn on the bus)", async () => {
    const handlers = new Map<string, (event: { type: string; subject?: string }) => Promise<void>>();
    const subscription = await invalidateOn(
      cache,
      async (type, handler) => {
        handlers.set(type, handler);
        return { stop: async () => {} };
      },
      cacheInvalidationRules(defaultResponseCache),
    );
    assert.deepEqual([...handlers.keys()], ["catalog.event_published.v1"]);
    await send(base, "/v1/catalog/events");
    assert.equal((await send(base, "/v1/catalog/events")).headers.get("x-cache"), "HIT");
    await handlers.get("catalog.event_published.v1")?.({ type: "catalog.event_published.v1", subject: "evt_9" });
    assert.equal((await send(base, "/v1/catalog/events")).headers.get("x-cache"), "MISS");
    await subscription.stop();
  });
});
