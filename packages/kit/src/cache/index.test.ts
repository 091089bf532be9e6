import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { createCache, isLockingCache, MemoryCache, RedisCache } from "./index.ts";

test("memory resolves to an in-process LRU without locks", async () => {
  const cache = createCache("memory", { namespace: "catalog", maxEntries: 10 });
  assert.ok(cache instanceof MemoryCache);
  assert.equal(isLockingCache(cache), false);
  await cache.close();
});

test("redis:// resolves to a Redis cache with locks", async () => {
  const cache = createCache(process.env.FLOTILLA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { namespace: "catalog" });
  assert.ok(cache instanceof RedisCache);
  assert.ok(isLockingCache(cache));
  await cache.close();
});

test("an unknown scheme fails with KIT_ERR_UNKNOWN_BACKEND naming the URL without its password", () => {
  assert.throws(
    () => createCache("memcached://admin:hunter2@cache:11211", { namespace: "catalog" }),
    (e) => e instanceof FlotillaError && e.code === "KIT_ERR_UNKNOWN_BACKEND" && e.message.includes("memcached://***@cache:11211") && !e.message.includes("hunter2"),
  );
});

test("a namespace that could collide with another service's keys is refused", () => {
  for (const namespace of ["", "cat:alog", "with space", "-leading", "x".repeat(65)]) {
    assert.throws(
      () => createCache("memory", { namespace }),
      (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CONFIG_INVALID" && e.message.includes("namespace"),
      JSON.stringify(namespace),
    );
  }
});
