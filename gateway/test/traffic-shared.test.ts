// Two gateway replicas wired as the distributed runtime wires them
// (trafficPlugins with `redis.url`): they share cached responses,
// idempotency keys and rate-limit counters through the local Redis.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { loadGatewayConfig } from "../src/config.ts";
import { type Traffic, trafficPlugins } from "../src/plugins/traffic.ts";
import { fakeCatalog } from "./support/fake-catalog.ts";
import { send, startGateway } from "./support/traffic-gateway.ts";

const url = process.env.FLOTILLA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const namespace = `test-${randomUUID()}`;
const config = loadGatewayConfig({ env: { FLOTILLA_GATEWAY_REDIS_URL: url } });
const silent = { warn: () => {}, error: () => {} };
const catalog = fakeCatalog();
const replicas: { app: FastifyInstance; base: string; traffic: Traffic }[] = [];

before(async () => {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  await admin.ping(); // fails (never skips) without Redis
  admin.disconnect();
  for (let i = 0; i < 2; i++) {
    const traffic = trafficPlugins({ config: () => config, log: silent, namespace });
    const { app, base } = await startGateway(catalog.invoke, [traffic.rateLimit, ...traffic.plugins]);
    replicas.push({ app, base, traffic });
  }
});
after(async () => {
  for (const r of replicas) {
    await r.app.close();
    await r.traffic.close();
  }
  const admin = new Redis(url);
  const keys = [...(await admin.keys(`*${namespace}*`))];
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

const pair = () => {
  const [a, b] = replicas;
  assert.ok(a && b);
  return [a.base, b.base] as const;
};

test("a response cached by one replica is a hit on the other", async () => {
  const [a, b] = pair();
  catalog.reset();
  const first = await send(a, "/v1/catalog/events/evt_2");
  assert.equal(first.headers.get("x-cache"), "MISS");
  const second = await send(b, "/v1/catalog/events/evt_2");
  assert.equal(second.headers.get("x-cache"), "HIT");
  assert.equal(second.headers.get("etag"), first.headers.get("etag"));
  assert.equal(catalog.calls.length, 1);
});

test("an idempotent POST on one replica is replayed by the other", async () => {
  const [a, b] = pair();
  catalog.reset();
  const key = randomUUID();
  const body = JSON.stringify({ title: "Shared", category: "EVENT_CATEGORY_CONCERT", venue: "Hall", city: "Porto", startsAt: "2030-06-01T20:00:00Z", capacity: 10, priceMinor: "100", currency: "EUR" });
  const init = { method: "POST", headers: { "content-type": "application/json", "idempotency-key": key, "x-test-user": "erin" }, body };
  const first = await send(a, "/v1/catalog/events", init);
  assert.equal(first.status, 200);
  const replay = await send(b, "/v1/catalog/events", init);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.text, first.text);
  assert.equal(catalog.calls.length, 1);
});

test("the write limit per IP (default 300 a minute) is counted once across replicas", async () => {
  const [a, b] = pair();
  // Remaining on the second replica continues from the first one's count.
  const post = (base: string) => send(base, "/v1/catalog/events", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const one = Number((await post(a)).headers.get("ratelimit-remaining"));
  const two = Number((await post(b)).headers.get("ratelimit-remaining"));
  assert.equal(two, one - 1);
});
