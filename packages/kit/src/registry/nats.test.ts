import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { registryConformance } from "./conformance.ts";
import { NatsRegistry } from "./nats.ts";
import type { Instance, RegistryEvent } from "./types.ts";

const url = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const bucket = `flotilla_registry_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const common = { bucket, heartbeatMs: 200, ttlMs: 800 };
const settings = { servers: url, ...common };

after(async () => {
  const nc = await connect({ servers: url });
  await (await new Kvm(nc).open(bucket)).destroy();
  await nc.close();
});

registryConformance("nats", async () => {
  const registry = await NatsRegistry.connect(settings);
  return { registry, other: () => NatsRegistry.connect(settings), ttlMs: settings.ttlMs };
});

const makeInstance = (): Instance => {
  const id = `probe-${randomUUID().slice(0, 8)}`;
  return { id, service: `svc-${id}`, version: "2.0.0", address: "http://127.0.0.1:7200", labels: {}, startedAt: Date.now() };
};

test("an unreachable server fails fast with KIT_ERR_REGISTRY_UNAVAILABLE", async () => {
  const started = Date.now();
  await assert.rejects(NatsRegistry.connect({ servers: "nats://127.0.0.1:1", connectTimeoutMs: 500 }), (e) => {
    return e instanceof FlotillaError && e.code === "KIT_ERR_REGISTRY_UNAVAILABLE" && e.retryable && e.cause !== undefined && e.message.includes("127.0.0.1:1");
  });
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

test("the bucket is created with a max age of a few TTLs, so dead entries are purged", async () => {
  const registry = await NatsRegistry.connect(settings);
  const nc = await connect({ servers: url });
  const status = await (await new Kvm(nc).open(bucket)).status();
  assert.equal(status.ttl, settings.ttlMs * 5);
  assert.equal(status.history, 1);
  await Promise.all([registry.close(), nc.close()]);
});

test("an entry left by a crashed process is ignored until it heartbeats again", async () => {
  const nc = await connect({ servers: url });
  const kv = await new Kvm(nc).open(bucket);
  const instance = makeInstance();
  const key = `${instance.service}.${instance.id}`;
  await kv.put(key, JSON.stringify({ instance, heartbeatAt: Date.now() - 60_000 }));
  const registry = await NatsRegistry.connect(settings);
  const events: RegistryEvent[] = [];
  const watch = await registry.watch(instance.service, (e) => events.push(e));
  assert.deepEqual(watch.instances(), []);
  await kv.put(key, JSON.stringify({ instance, heartbeatAt: Date.now() }));
  await waitUntil(() => events.length > 0);
  assert.deepEqual(events, [{ type: "up", instance }]);
  await kv.delete(key);
  await Promise.all([registry.close(), nc.close()]);
});

test("a malformed entry is reported to onError and skipped", async () => {
  const errors: unknown[] = [];
  const registry = await NatsRegistry.connect({ ...settings, onError: (e) => errors.push(e) });
  const instance = makeInstance();
  const watch = await registry.watch(instance.service);
  const nc = await connect({ servers: url });
  const kv = await new Kvm(nc).open(bucket);
  await kv.put(`${instance.service}.garbage`, "not json");
  await registry.register(instance);
  await waitUntil(() => watch.instances().length > 0);
  assert.deepEqual(watch.instances(), [instance]);
  assert.match(String(errors[0]), /not a heartbeat record/);
  await kv.delete(`${instance.service}.garbage`);
  await Promise.all([registry.close(), nc.close()]);
});

test("a given connection is used and left open; own instances are still deregistered", async () => {
  const nc = await connect({ servers: url });
  const registry = await NatsRegistry.connect({ ...common, connection: nc });
  const instance = makeInstance();
  await registry.register(instance);
  await registry.close();
  assert.equal(nc.isClosed(), false);
  const entry = await (await new Kvm(nc).open(bucket)).get(`${instance.service}.${instance.id}`);
  assert.equal(entry?.operation, "DEL");
  await nc.close();
});

test("failing heartbeats are reported to onError, not thrown, and close() still completes", async () => {
  const nc = await connect({ servers: url });
  const errors: unknown[] = [];
  const registry = await NatsRegistry.connect({ ...common, connection: nc, onError: (e) => errors.push(e) });
  await registry.register(makeInstance());
  await nc.close();
  await waitUntil(() => errors.length >= 2);
  assert.ok(errors.every((e) => e instanceof FlotillaError && e.code === "KIT_ERR_REGISTRY_UNAVAILABLE"));
  await registry.close();
});

async function waitUntil(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
