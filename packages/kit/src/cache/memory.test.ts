import assert from "node:assert/strict";
import { test } from "node:test";
import { cacheConformance } from "./conformance.ts";
import { MemoryCache } from "./memory.ts";

cacheConformance("memory", {
  namespacePrefix: "memory",
  open: () => new MemoryCache(),
  broken: () => {
    const cache = new MemoryCache();
    void cache.close();
    return cache;
  },
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("the least recently used entry is evicted beyond maxEntries", async () => {
  const cache = new MemoryCache({ maxEntries: 2 });
  await cache.set("a", bytes("a"), { ttlMs: 10_000 });
  await cache.set("b", bytes("b"), { ttlMs: 10_000 });
  await cache.get("a");
  await cache.set("c", bytes("c"), { ttlMs: 10_000 });
  assert.equal(await cache.get("b"), undefined);
  assert.ok((await cache.get("a")) !== undefined);
  assert.ok((await cache.get("c")) !== undefined);
  await cache.close();
});

test("two memory caches share nothing", async () => {
  const [a, b] = [new MemoryCache(), new MemoryCache()];
  await a.set("k", bytes("a"), { ttlMs: 10_000, tags: ["t"] });
  assert.equal(await b.get("k"), undefined);
  await b.invalidateTags(["t"]);
  assert.ok((await a.get("k")) !== undefined);
  await Promise.all([a.close(), b.close()]);
});

test("once an invalidation record is evicted, older tagged entries are dropped rather than served stale", async () => {
  const cache = new MemoryCache({ maxInvalidations: 2 });
  await cache.set("tagged", bytes("old"), { ttlMs: 10_000, tags: ["events"] });
  await cache.set("untagged", bytes("old"), { ttlMs: 10_000 });
  const stamp = await cache.stamp("late", ["events"]);
  await cache.invalidateTags(["events"]);
  await cache.invalidateTags(["x"]);
  await cache.invalidateTags(["y"]);
  assert.equal(await cache.get("tagged"), undefined);
  assert.ok((await cache.get("untagged")) !== undefined, "entries without tags are unaffected");
  assert.equal(await cache.set("late", bytes("stale"), { ttlMs: 10_000, tags: ["events"], stamp }), false);
  await cache.set("tagged", bytes("new"), { ttlMs: 10_000, tags: ["events"] });
  assert.equal(new TextDecoder().decode(await cache.get("tagged")), "new");
  await cache.close();
});
