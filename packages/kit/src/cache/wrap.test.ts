import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryCache } from "./memory.ts";
import { cached } from "./wrap.ts";

function slowCounter(value: string) {
  let calls = 0;
  return {
    load: async () => {
      calls += 1;
      await sleep(20);
      return value;
    },
    calls: () => calls,
  };
}

test("flights are per cache and per key", async () => {
  const [a, b] = [new MemoryCache(), new MemoryCache()];
  const source = slowCounter("v");
  await Promise.all([cached(a, "k", { ttlMs: 1000 }, source.load), cached(b, "k", { ttlMs: 1000 }, source.load), cached(a, "other", { ttlMs: 1000 }, source.load)]);
  assert.equal(source.calls(), 3);
  await Promise.all([a.close(), b.close()]);
});

test("an onError hook that throws does not fail the read", async () => {
  const cache = new MemoryCache();
  await cache.close();
  const value = await cached(cache, "k", { ttlMs: 1000, onError: () => { throw new Error("broken logger"); } }, async () => "from the source");
  assert.equal(value, "from the source");
});

test("a value the codec cannot encode is returned and reported, not cached", async () => {
  const cache = new MemoryCache();
  const errors: unknown[] = [];
  const value = await cached(cache, "k", { ttlMs: 1000, onError: (e) => errors.push(e) }, async () => ({ big: 1n }));
  assert.deepEqual(value, { big: 1n });
  assert.ok(errors[0] instanceof TypeError);
  assert.equal(await cache.get("k"), undefined);
  await cache.close();
});

test("a new flight starts once the previous one settled", async () => {
  const cache = new MemoryCache();
  const failing = async (): Promise<string> => {
    throw new Error("once");
  };
  await assert.rejects(cached(cache, "k", { ttlMs: 1000 }, failing), /once/);
  assert.equal(await cached(cache, "k", { ttlMs: 1000 }, async () => "second"), "second");
  await cache.close();
});
