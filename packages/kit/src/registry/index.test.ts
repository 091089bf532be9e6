import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { createRegistry, MemoryRegistry, MemoryWorld, NatsRegistry } from "./index.ts";

const url = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

test("'memory' resolves to a MemoryRegistry, sharing a world when given one", async () => {
  const world = new MemoryWorld();
  const [a, b] = await Promise.all([createRegistry("memory", { world }), createRegistry("memory", { world })]);
  assert.ok(a instanceof MemoryRegistry);
  await a.register({ id: "catalog-1", service: "catalog", version: "1", address: "inproc://catalog-1", labels: {}, startedAt: 1 });
  assert.equal((await b.watch("catalog")).instances().length, 1);
  await Promise.all([a.close(), b.close()]);
});

test("a nats:// list resolves to a NatsRegistry with the given options", async () => {
  const bucket = `flotilla_registry_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const registry = await createRegistry(`nats://127.0.0.1:1, ${url}`, { bucket, ttlMs: 900, heartbeatMs: 300 });
  assert.ok(registry instanceof NatsRegistry);
  assert.deepEqual([registry.bucket, registry.ttlMs, registry.heartbeatMs], [bucket, 900, 300]);
  await registry.close();
  const nc = await connect({ servers: url });
  await (await new Kvm(nc).open(bucket)).destroy();
  await nc.close();
});

test("an unknown scheme is KIT_ERR_UNKNOWN_BACKEND naming the url without its password", async () => {
  await assert.rejects(createRegistry("redis://admin:hunter2@cache:6379"), (e) => {
    assert.ok(e instanceof FlotillaError);
    assert.equal(e.code, "KIT_ERR_UNKNOWN_BACKEND");
    assert.match(e.message, /redis:\/\/\*\*\*@cache:6379/);
    assert.doesNotMatch(e.message, /hunter2/);
    return true;
  });
});
