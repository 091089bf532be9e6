import assert from "node:assert/strict";
import { test } from "node:test";
import { registryConformance } from "./conformance.ts";
import { MemoryRegistry } from "./memory.ts";
import type { Instance } from "./types.ts";

const TTL_MS = 300;

registryConformance("memory", async () => {
  const registry = new MemoryRegistry({ ttlMs: TTL_MS });
  return { registry, other: async () => new MemoryRegistry({ world: registry.world }), ttlMs: TTL_MS };
});

const instance: Instance = { id: "catalog-1", service: "catalog", version: "1.0.0", address: "inproc://catalog-1", labels: {}, startedAt: 1 };

test("each MemoryRegistry without a shared world is a world of its own", async () => {
  const [a, b] = [new MemoryRegistry(), new MemoryRegistry()];
  await a.register(instance);
  const watch = await b.watch("catalog");
  assert.deepEqual(watch.instances(), []);
  assert.equal((await a.watch("catalog")).instances().length, 1);
  await Promise.all([a.close(), b.close()]);
});

test("a listener that throws is reported to onError and the watch keeps working", async () => {
  const errors: unknown[] = [];
  const registry = new MemoryRegistry({ onError: (e) => errors.push(e) });
  const watch = await registry.watch("catalog", () => {
    throw new Error("listener bug");
  });
  await registry.register(instance);
  assert.equal((errors[0] as Error | undefined)?.message, "listener bug");
  assert.deepEqual(watch.instances(), [instance]);
  await registry.close();
});

test("the registry keeps its own copy of a registered instance", async () => {
  const registry = new MemoryRegistry();
  const mine = structuredClone(instance);
  await registry.register(mine);
  mine.labels["track"] = "canary";
  assert.deepEqual((await registry.watch("catalog")).instances()[0]?.labels, {});
  await registry.close();
});
