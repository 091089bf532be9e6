import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { FlotillaError } from "../errors/index.ts";
import { cacheConformance } from "./conformance.ts";
import { RedisCache, type RedisCacheOptions } from "./redis.ts";
import { cached } from "./wrap.ts";

const url = process.env.FLOTILLA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `cachetest-${randomUUID().slice(0, 8)}`;
let counter = 0;
const namespace = (): string => `${prefix}-own-${++counter}`;
// Handles opened by the standalone tests below, closed after each even when it fails.
const handles: { close(): Promise<void> }[] = [];
afterEach(() => Promise.all(handles.splice(0).map((h) => h.close())));
const open = (options: Partial<RedisCacheOptions> & { namespace: string }): RedisCache => track(new RedisCache({ url, ...options }));
function track<T extends { close(): Promise<void> }>(handle: T): T {
  handles.push(handle);
  return handle;
}
const adminClient = (): Redis => {
  const admin = new Redis(url);
  track({ close: async () => void (await admin.quit()) });
  return admin;
};
const deadServer = (onError?: RedisCacheOptions["onError"]): RedisCache =>
  new RedisCache({ url: "redis://flotilla:s3cret@127.0.0.1:1", namespace: "dead", connectTimeoutMs: 200, commandTimeoutMs: 200, onError });

// Every key this run wrote starts with its prefix.
after(async () => {
  const admin = new Redis(url);
  const keys: string[] = [];
  for await (const batch of admin.scanStream({ match: `${prefix}*`, count: 500 })) keys.push(...(batch as string[]));
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

cacheConformance("redis", {
  namespacePrefix: prefix,
  open: (ns) => new RedisCache({ url, namespace: ns }),
  broken: () => deadServer(),
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));

function counted<T>(value: T, delayMs: number): { load: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return {
    load: async () => {
      calls += 1;
      await sleep(delayMs);
      return value;
    },
    calls: () => calls,
  };
}

test("two replicas share entries, deletes and tag invalidations", async () => {
  const ns = namespace();
  const [a, b] = [open({ namespace: ns }), open({ namespace: ns })];
  await a.set("event:1", bytes("one"), { ttlMs: 10_000, tags: ["catalog:events"] });
  await a.set("event:2", bytes("two"), { ttlMs: 10_000 });
  assert.equal(text(await b.get("event:1")), "one");
  await b.invalidateTags(["catalog:events"]);
  assert.equal(await a.get("event:1"), undefined);
  await b.delete(["event:2"]);
  assert.equal(await a.get("event:2"), undefined);
  const stamp = await a.stamp("event:3", ["catalog:events"]);
  await b.invalidateTags(["catalog:events"]);
  assert.equal(await a.set("event:3", bytes("stale"), { ttlMs: 10_000, tags: ["catalog:events"], stamp }), false, "an invalidation on one replica refuses a stale set on another");
});

test("the stampede guard: 50 concurrent misses spread over two replicas make one load call", async () => {
  const ns = namespace();
  const [a, b] = [open({ namespace: ns }), open({ namespace: ns })];
  const source = counted({ events: ["jazz", "opera"] }, 100);
  const calls = Array.from({ length: 50 }, (_, i) => cached(i % 2 === 0 ? a : b, "events:list", { ttlMs: 10_000 }, source.load));
  const results = await Promise.all(calls);
  assert.equal(source.calls(), 1);
  assert.ok(results.every((r) => r.events.join() === "jazz,opera"));
});

test("without the guard each replica loads on its own (what the guard saves)", async () => {
  const ns = namespace();
  const [a, b] = [open({ namespace: ns }), open({ namespace: ns })];
  const source = counted("v", 100);
  await Promise.all(Array.from({ length: 50 }, (_, i) => cached(i % 2 === 0 ? a : b, "k", { ttlMs: 10_000, stampede: false }, source.load)));
  assert.equal(source.calls(), 2);
});

test("a waiter takes the lock over when its holder dies, and loads once", async () => {
  const ns = namespace();
  const [dead, b] = [open({ namespace: ns }), open({ namespace: ns })];
  assert.ok((await dead.lock("k", 300)) !== undefined, "the doomed replica holds the lock and never releases it");
  await dead.close();
  const source = counted("v", 10);
  const started = Date.now();
  assert.equal(await cached(b, "k", { ttlMs: 10_000, stampede: { lockMs: 300, waitMs: 5000, pollMs: 20 } }, source.load), "v");
  const waited = Date.now() - started;
  assert.equal(source.calls(), 1);
  assert.ok(waited >= 250 && waited < 3000, `waited ${waited} ms`);
  assert.ok((await b.lock("k", 1000)) !== undefined, "the waiter released the lock it took over");
});

test("a waiter stops waiting after waitMs and loads on its own", async () => {
  const ns = namespace();
  const [slow, b] = [open({ namespace: ns }), open({ namespace: ns })];
  const lock = await slow.lock("k", 10_000);
  assert.ok(lock !== undefined);
  const started = Date.now();
  assert.equal(await cached(b, "k", { ttlMs: 10_000, stampede: { lockMs: 10_000, waitMs: 200, pollMs: 20 } }, async () => "mine"), "mine");
  const waited = Date.now() - started;
  assert.ok(waited >= 180 && waited < 2000, `waited ${waited} ms`);
  assert.equal(text(await slow.get("k")), '"mine"');
  await lock.release();
});

test("an unreachable server fails fast with KIT_ERR_CACHE_UNAVAILABLE, without the password, reported once", async () => {
  const reported: FlotillaError[] = [];
  const cache = track(deadServer((e) => reported.push(e)));
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    await assert.rejects(cache.get("k"), (e) => {
      return e instanceof FlotillaError && e.code === "KIT_ERR_CACHE_UNAVAILABLE" && e.retryable && e.message.includes("127.0.0.1:1") && !e.message.includes("s3cret");
    });
  }
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.equal(reported.length, 1);
  assert.ok(!reported[0]?.message.includes("s3cret"));
});

test("keys live under the namespace; entries, tag versions and tombstones expire", async () => {
  const ns = namespace();
  const cache = open({ namespace: ns, tagTtlMs: 5000, tombstoneMs: 3000 });
  const admin = adminClient();
  await cache.set("k", bytes("v"), { ttlMs: 8000, tags: ["t"] });
  assert.deepEqual((await admin.keys(`${ns}:*`)).sort(), [`${ns}:e:k`, `${ns}:t:t`]);
  const entryTtl = await admin.pttl(`${ns}:e:k`);
  assert.ok(entryTtl > 7000 && entryTtl <= 8000, `entry ${entryTtl}`);
  const expiresAt = async (key: string): Promise<number> => Number(await admin.call("PEXPIRETIME", key));
  assert.ok((await expiresAt(`${ns}:t:t`)) >= (await expiresAt(`${ns}:e:k`)), "a tag version outlives the entries that carry it");
  await cache.invalidateTags(["t"]);
  assert.equal(await admin.exists(`${ns}:t:t`), 0, "invalidation is one DEL of the version");
  await cache.delete(["k"]);
  const tombstoneTtl = await admin.pttl(`${ns}:e:k`);
  assert.ok(tombstoneTtl > 0 && tombstoneTtl <= 3000, `tombstone ${tombstoneTtl}`);
});

test("a given connection is used and left open by close()", async () => {
  const connection = adminClient();
  const cache = new RedisCache({ connection, namespace: namespace() });
  await cache.set("k", bytes("v"), { ttlMs: 10_000 });
  await cache.close();
  assert.equal(await connection.ping(), "PONG");
  await assert.rejects(cache.get("k"), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CACHE_UNAVAILABLE");
});
