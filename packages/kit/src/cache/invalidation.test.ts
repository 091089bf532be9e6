import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { type InvalidationEvent, type InvalidationTarget, invalidateOn, type SubscribeFn } from "./invalidation.ts";
import { MemoryCache } from "./memory.ts";

type Handler = (event: InvalidationEvent) => Promise<void>;

/** A stand-in for the bus: records subscriptions and delivers by type. */
function fakeBus(options: { failOn?: string } = {}) {
  const handlers = new Map<string, Handler>();
  const stopped: string[] = [];
  const subscribe: SubscribeFn = async (type, handler) => {
    if (type === options.failOn) throw new Error(`cannot subscribe to ${type}`);
    handlers.set(type, handler);
    return {
      stop: async () => {
        handlers.delete(type);
        stopped.push(type);
      },
    };
  };
  const deliver = async (event: InvalidationEvent): Promise<void> => {
    const handler = handlers.get(event.type);
    if (handler !== undefined) await handler(event);
  };
  return { subscribe, deliver, handlers, stopped };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const rules = {
  "catalog.event_published.v1": (e: InvalidationEvent): InvalidationTarget[] => ["tag:catalog:events", `key:event:${e.subject}`],
  "catalog.venue_renamed.v1": (): InvalidationTarget[] => ["tag:catalog:venues"],
};

async function seeded(): Promise<MemoryCache> {
  const cache = new MemoryCache();
  await cache.set("events:list", bytes("list"), { ttlMs: 10_000, tags: ["catalog:events"] });
  await cache.set("event:e-1", bytes("e-1"), { ttlMs: 10_000 });
  await cache.set("event:e-2", bytes("e-2"), { ttlMs: 10_000 });
  await cache.set("venues:list", bytes("venues"), { ttlMs: 10_000, tags: ["catalog:venues"] });
  return cache;
}

test("an event invalidates the tags and keys its rule names, and nothing else", async () => {
  const cache = await seeded();
  const bus = fakeBus();
  const invalidation = await invalidateOn(cache, bus.subscribe, rules);
  assert.deepEqual([...bus.handlers.keys()].sort(), ["catalog.event_published.v1", "catalog.venue_renamed.v1"]);
  await bus.deliver({ type: "catalog.event_published.v1", subject: "e-1" });
  assert.equal(await cache.get("events:list"), undefined);
  assert.equal(await cache.get("event:e-1"), undefined);
  assert.ok((await cache.get("event:e-2")) !== undefined);
  assert.ok((await cache.get("venues:list")) !== undefined);
  await bus.deliver({ type: "catalog.venue_renamed.v1" });
  assert.equal(await cache.get("venues:list"), undefined);
  await invalidation.stop();
  await cache.close();
});

test("stop() ends every subscription", async () => {
  const bus = fakeBus();
  const cache = new MemoryCache();
  const invalidation = await invalidateOn(cache, bus.subscribe, rules);
  await invalidation.stop();
  assert.equal(bus.handlers.size, 0);
  assert.deepEqual(bus.stopped.sort(), ["catalog.event_published.v1", "catalog.venue_renamed.v1"]);
  await cache.close();
});

test("a subscription that fails stops the ones already made and rejects", async () => {
  const bus = fakeBus({ failOn: "catalog.venue_renamed.v1" });
  const cache = new MemoryCache();
  await assert.rejects(invalidateOn(cache, bus.subscribe, rules), /cannot subscribe to catalog.venue_renamed.v1/);
  assert.deepEqual(bus.stopped, ["catalog.event_published.v1"]);
  assert.equal(bus.handlers.size, 0);
  await cache.close();
});

test("a cache failure rejects the handler, so the bus redelivers the event", async () => {
  const bus = fakeBus();
  const cache = new MemoryCache();
  await invalidateOn(cache, bus.subscribe, rules);
  await cache.close();
  await assert.rejects(bus.deliver({ type: "catalog.event_published.v1", subject: "e-1" }), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CACHE_UNAVAILABLE");
});

test("a target without a tag: or key: prefix is rejected, not guessed", async () => {
  const bus = fakeBus();
  const cache = await seeded();
  await invalidateOn(cache, bus.subscribe, { "x.v1": () => ["event:e-2" as InvalidationTarget] });
  await assert.rejects(bus.deliver({ type: "x.v1" }), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_INTERNAL" && e.message.includes("event:e-2"));
  assert.ok((await cache.get("event:e-2")) !== undefined);
  await cache.close();
});
