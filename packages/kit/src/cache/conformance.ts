import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FlotillaError } from "../errors/index.ts";
import type { Cache } from "./types.ts";
import { cached } from "./wrap.ts";

/** How the suite reaches one backend. */
export interface CacheWorld {
  /** Unique per test run; every namespace the suite opens starts with it, so a run can clean up after itself. */
  readonly namespacePrefix: string;
  /** A new handle on the backend under `namespace` (for Redis: a new connection, as a replica would have). */
  open(namespace: string): Cache;
  /** A cache whose backend fails every call: a closed one, or one pointed at a dead server. */
  broken(): Cache;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined => (value === undefined ? undefined : new TextDecoder().decode(value));
const isUnavailable = (error: unknown): boolean => error instanceof FlotillaError && error.code === "KIT_ERR_CACHE_UNAVAILABLE" && error.retryable;

/** A load that counts its calls and, optionally, waits so concurrent callers pile up. */
function counted<T>(value: () => T | Promise<T>, delayMs = 0): { load: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return {
    load: async () => {
      calls += 1;
      if (delayMs > 0) await sleep(delayMs);
      return value();
    },
    calls: () => calls,
  };
}

/**
 * The one behaviour suite every Cache implementation must pass.
 *
 *   cacheConformance("memory", { namespacePrefix: "t", open: () => new MemoryCache(), broken: ... });
 */
export function cacheConformance(name: string, world: CacheWorld): void {
  let counter = 0;
  // A fresh namespace per test, and every handle closed after it, so the process can exit.
  function open(t: TestContext): { cache: Cache; other: () => Cache } {
    const handles: Cache[] = [];
    t.after(() => Promise.all(handles.map((h) => h.close())));
    const next = (): Cache => {
      const handle = world.open(`${world.namespacePrefix}-${++counter}`);
      handles.push(handle);
      return handle;
    };
    return { cache: next(), other: next };
  }

  describe(`cache conformance: ${name}`, () => {
    test("get returns what set stored, and undefined for a key never set", async (t) => {
      const { cache } = open(t);
      assert.equal(await cache.get("missing"), undefined);
      assert.equal(await cache.set("greeting", bytes("hello"), { ttlMs: 10_000 }), true);
      assert.equal(text(await cache.get("greeting")), "hello");
    });

    test("set replaces a value; delete removes the keys it names and ignores missing ones", async (t) => {
      const { cache } = open(t);
      await cache.set("a", bytes("1"), { ttlMs: 10_000 });
      await cache.set("a", bytes("2"), { ttlMs: 10_000 });
      await cache.set("b", bytes("b"), { ttlMs: 10_000 });
      await cache.set("c", bytes("c"), { ttlMs: 10_000 });
      assert.equal(text(await cache.get("a")), "2");
      await cache.delete(["a", "b", "never-set"]);
      assert.equal(await cache.get("a"), undefined);
      assert.equal(await cache.get("b"), undefined);
      assert.equal(text(await cache.get("c")), "c");
      await cache.set("a", bytes("3"), { ttlMs: 10_000 });
      assert.equal(text(await cache.get("a")), "3", "a deleted key can be set again");
    });

    test("an entry expires after its own TTL", async (t) => {
      const { cache } = open(t);
      await cache.set("short", bytes("s"), { ttlMs: 100 });
      await cache.set("long", bytes("l"), { ttlMs: 10_000 });
      assert.equal(text(await cache.get("short")), "s");
      await sleep(250);
      assert.equal(await cache.get("short"), undefined);
      assert.equal(text(await cache.get("long")), "l");
    });

    test("invalidating a tag hides exactly the entries carrying it", async (t) => {
      const { cache } = open(t);
      await cache.set("a", bytes("a"), { ttlMs: 10_000, tags: ["events"] });
      await cache.set("b", bytes("b"), { ttlMs: 10_000, tags: ["venues", "events"] });
      await cache.set("c", bytes("c"), { ttlMs: 10_000, tags: ["venues"] });
      await cache.set("d", bytes("d"), { ttlMs: 10_000 });
      await cache.invalidateTags(["events"]);
      assert.deepEqual(await Promise.all(["a", "b", "c", "d"].map(async (k) => text(await cache.get(k)))), [undefined, undefined, "c", "d"]);
      await cache.set("a", bytes("a2"), { ttlMs: 10_000, tags: ["events"] });
      assert.equal(text(await cache.get("a")), "a2", "an invalidated tag can carry new entries");
      await cache.invalidateTags(["venues", "events"]);
      assert.equal(await cache.get("a"), undefined);
      assert.equal(await cache.get("c"), undefined);
      assert.equal(text(await cache.get("d")), "d");
    });

    test("namespaces are isolated: same keys, tags and deletes do not cross", async (t) => {
      const { cache: catalog, other } = open(t);
      const booking = other();
      await catalog.set("item", bytes("catalog"), { ttlMs: 10_000, tags: ["shared"] });
      await booking.set("item", bytes("booking"), { ttlMs: 10_000, tags: ["shared"] });
      await booking.set("gone", bytes("booking"), { ttlMs: 10_000 });
      assert.equal(text(await catalog.get("item")), "catalog");
      assert.equal(text(await booking.get("item")), "booking");
      await catalog.invalidateTags(["shared"]);
      await catalog.delete(["gone"]);
      assert.equal(await catalog.get("item"), undefined);
      assert.equal(text(await booking.get("item")), "booking");
      assert.equal(text(await booking.get("gone")), "booking");
    });

    test("binary values, empty values and unicode keys come back byte for byte", async (t) => {
      const { cache } = open(t);
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const large = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7919) % 251);
      const unicodeKey = "événement:🎟️ 東京/α β";
      await cache.set("every-byte", everyByte, { ttlMs: 10_000 });
      await cache.set("empty", new Uint8Array(0), { ttlMs: 10_000 });
      await cache.set("large", large, { ttlMs: 10_000 });
      await cache.set(unicodeKey, bytes("Zürich — 🚀"), { ttlMs: 10_000, tags: ["ταγ:🏷️"] });
      assert.deepEqual(await cache.get("every-byte"), everyByte);
      assert.deepEqual(await cache.get("empty"), new Uint8Array(0));
      assert.deepEqual(await cache.get("large"), large);
      assert.equal(text(await cache.get(unicodeKey)), "Zürich — 🚀");
      await cache.invalidateTags(["ταγ:🏷️"]);
      assert.equal(await cache.get(unicodeKey), undefined);
    });

    test("the cache keeps its own copy of a value", async (t) => {
      const { cache } = open(t);
      const value = bytes("abc");
      await cache.set("k", value, { ttlMs: 10_000 });
      value[0] = 0;
      const read = await cache.get("k");
      assert.ok(read !== undefined);
      read[1] = 0;
      assert.equal(text(await cache.get("k")), "abc");
    });

    test("a value stamped before a delete or a tag invalidation is refused; an up-to-date stamp is stored", async (t) => {
      const { cache } = open(t);
      const beforeDelete = await cache.stamp("k", ["events"]);
      await cache.delete(["k"]);
      assert.equal(await cache.set("k", bytes("stale"), { ttlMs: 10_000, tags: ["events"], stamp: beforeDelete }), false);
      assert.equal(await cache.get("k"), undefined);

      const beforeInvalidation = await cache.stamp("k", ["events"]);
      await cache.invalidateTags(["events"]);
      assert.equal(await cache.set("k", bytes("stale"), { ttlMs: 10_000, tags: ["events"], stamp: beforeInvalidation }), false);
      assert.equal(await cache.get("k"), undefined);

      const fresh = await cache.stamp("k", ["events"]);
      await cache.invalidateTags(["other-tag"]);
      await cache.delete(["other-key"]);
      assert.equal(await cache.set("k", bytes("fresh"), { ttlMs: 10_000, tags: ["events"], stamp: fresh }), true);
      assert.equal(text(await cache.get("k")), "fresh");
    });

    test("a TTL that is not a positive integer is rejected", async (t) => {
      const { cache } = open(t);
      for (const ttlMs of [0, -5, 1.5, Number.NaN]) {
        await assert.rejects(cache.set("k", bytes("v"), { ttlMs }), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_INTERNAL", `ttlMs ${ttlMs}`);
      }
      assert.equal(await cache.get("k"), undefined);
    });

    test("a closed cache rejects with KIT_ERR_CACHE_UNAVAILABLE", async (t) => {
      const { cache } = open(t);
      await cache.close();
      await assert.rejects(cache.get("k"), isUnavailable);
      await assert.rejects(cache.set("k", bytes("v"), { ttlMs: 1000 }), isUnavailable);
    });

    test("cached loads on a miss, serves hits from the cache, and reloads after a delete", async (t) => {
      const { cache } = open(t);
      const source = counted(() => ({ title: "Jazz night", seats: 120 }));
      const options = { ttlMs: 10_000 };
      assert.deepEqual(await cached(cache, "event:1", options, source.load), { title: "Jazz night", seats: 120 });
      assert.deepEqual(await cached(cache, "event:1", options, source.load), { title: "Jazz night", seats: 120 });
      assert.equal(source.calls(), 1);
      assert.equal(text(await cache.get("event:1")), '{"title":"Jazz night","seats":120}');
      await cache.delete(["event:1"]);
      await cached(cache, "event:1", options, source.load);
      assert.equal(source.calls(), 2);
    });

    test("cached entries carry their tags", async (t) => {
      const { cache } = open(t);
      const list = counted(() => ["a", "b"]);
      const options = { ttlMs: 10_000, tags: ["catalog:events"] };
      await cached(cache, "events:list", options, list.load);
      await cached(cache, "events:list", options, list.load);
      await cache.invalidateTags(["catalog:events"]);
      assert.deepEqual(await cached(cache, "events:list", options, list.load), ["a", "b"]);
      assert.equal(list.calls(), 2);
    });

    test("single-flight: 100 concurrent misses make one load call and all get the value", async (t) => {
      const { cache } = open(t);
      const source = counted(() => ({ id: "e-42" }), 50);
      const results = await Promise.all(Array.from({ length: 100 }, () => cached(cache, "hot", { ttlMs: 10_000 }, source.load)));
      assert.equal(source.calls(), 1);
      assert.ok(results.every((r) => r.id === "e-42"));
      await cached(cache, "hot", { ttlMs: 10_000 }, source.load);
      assert.equal(source.calls(), 1, "the value was cached");
    });

    test("a load that throws reaches every waiter and is not cached", async (t) => {
      const { cache } = open(t);
      const failure = new Error("upstream down");
      const failing = counted<string>(() => {
        throw failure;
      }, 30);
      const outcomes = await Promise.allSettled(Array.from({ length: 100 }, () => cached(cache, "k", { ttlMs: 10_000 }, failing.load)));
      assert.equal(failing.calls(), 1);
      assert.ok(outcomes.every((o) => o.status === "rejected" && o.reason === failure));
      assert.equal(await cache.get("k"), undefined);
      const working = counted(() => "ok");
      assert.equal(await cached(cache, "k", { ttlMs: 10_000 }, working.load), "ok");
      assert.equal(working.calls(), 1);
    });

    test("a value whose key or tag is invalidated while it loads is returned but not cached", async (t) => {
      const { cache } = open(t);
      const options = { ttlMs: 10_000, tags: ["catalog:events"] };
      let version = 0;
      const racingTag = counted(async () => {
        await cache.invalidateTags(["catalog:events"]);
        return ++version;
      });
      assert.equal(await cached(cache, "list", options, racingTag.load), 1);
      assert.equal(await cache.get("list"), undefined);
      const racingDelete = counted(async () => {
        await cache.delete(["list"]);
        return ++version;
      });
      assert.equal(await cached(cache, "list", options, racingDelete.load), 2);
      assert.equal(await cache.get("list"), undefined);
      const calm = counted(() => ++version);
      assert.equal(await cached(cache, "list", options, calm.load), 3);
      assert.equal(await cached(cache, "list", options, calm.load), 3);
      assert.equal(calm.calls(), 1);
    });

    test("an entry the codec cannot read is reported, reloaded and overwritten", async (t) => {
      const { cache } = open(t);
      await cache.set("k", bytes("{not json"), { ttlMs: 10_000 });
      const errors: unknown[] = [];
      const source = counted(() => ({ ok: true }));
      assert.deepEqual(await cached(cache, "k", { ttlMs: 10_000, onError: (e) => errors.push(e) }, source.load), { ok: true });
      assert.ok(errors[0] instanceof SyntaxError);
      assert.equal(text(await cache.get("k")), '{"ok":true}');
    });

    test("a failing backend never fails cached: the source answers and the error is reported", async (t) => {
      const broken = world.broken();
      t.after(() => broken.close());
      const errors: unknown[] = [];
      const source = counted(() => "from the source");
      const options = { ttlMs: 10_000, tags: ["t"], onError: (e: unknown) => errors.push(e) };
      assert.equal(await cached(broken, "k", options, source.load), "from the source");
      const concurrent = await Promise.all(Array.from({ length: 10 }, () => cached(broken, "k", options, source.load)));
      assert.ok(concurrent.every((v) => v === "from the source"));
      assert.equal(source.calls(), 2, "nothing was cached, yet concurrent callers still shared one load");
      assert.ok(errors.length >= 2 && errors.every(isUnavailable), `errors: ${errors.map(String).join("; ")}`);
    });
  });
}
