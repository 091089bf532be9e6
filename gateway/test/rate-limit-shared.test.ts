// Two gateway replicas on the local Redis share their rate-limit counters.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { WindowCounter } from "../src/plugins/rate-limit-counter.ts";
import { type RateLimitSettings, rateLimit } from "../src/plugins/rate-limit.ts";
import { fakeCatalog } from "./support/fake-catalog.ts";
import { send, startGateway } from "./support/traffic-gateway.ts";

const url = process.env.FLOTILLA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `flotilla-test:rl:${randomUUID()}`;
const settings: RateLimitSettings = { enabled: true, classes: { read: { user: { limit: 4, windowSec: 60 } } }, routes: {} };
const redis = new Redis(url, { maxRetriesPerRequest: 1 });
const gateways: { app: FastifyInstance; base: string }[] = [];

before(async () => {
  await redis.ping(); // fails the suite, rather than skipping it, when Redis is not there
  for (let i = 0; i < 2; i++) {
    gateways.push(await startGateway(fakeCatalog().invoke, [rateLimit({ settings: () => settings, redis, keyPrefix: prefix })]));
  }
});
after(async () => {
  for (const g of gateways) await g.app.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

test("the limit holds across two gateway instances: requests to either count against one quota", async () => {
  const [a, b] = [gateways[0], gateways[1]];
  assert.ok(a && b);
  const headers = { "x-test-user": "dave" };
  const statuses: number[] = [];
  for (const base of [a.base, b.base, a.base, b.base, a.base, b.base]) statuses.push((await send(base, "/v1/catalog/events", { headers })).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  // The counters are in Redis, under the configured prefix.
  assert.ok((await redis.keys(`${prefix}*`)).length > 0);
});

test("a counter taken back does not count (memory and Redis)", async () => {
  for (const counter of [new WindowCounter({ windowSec: 60, keyPrefix: `${prefix}:undo` }), new WindowCounter({ windowSec: 60, keyPrefix: `${prefix}:undo`, redis })]) {
    const now = 1_700_000_000_000;
    const first = await counter.hit("k", now);
    assert.equal(first.current, 1);
    const second = await counter.hit("k", now + 10);
    assert.equal(second.current, 2);
    await second.undo();
    assert.equal((await counter.hit("k", now + 20)).current, 2);
    // The next window sees this one as its previous.
    const next = await counter.hit("k", now + 60_000);
    assert.equal(next.previous, 2);
    assert.equal(next.current, 1);
  }
});

test("a shared counter lives two windows in Redis, under the keys earlier versions used", async () => {
  const counter = new WindowCounter({ windowSec: 60, keyPrefix: `${prefix}:ttl`, redis });
  const now = Date.now();
  await counter.hit("k", now);
  const key = `${prefix}:ttl:k:${Math.floor(now / 60_000)}`;
  assert.equal(await redis.get(key), "1");
  const ttl = await redis.pttl(key);
  assert.ok(ttl > 60_000 && ttl <= 120_000, `ttl ${ttl}`);
});

test("while Redis is away, hits are counted in this process", async () => {
  // Nothing listens on port 1; without an offline queue every command fails at once, as the gateway's client does.
  const away = new Redis("redis://127.0.0.1:1", { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
  try {
    const counter = new WindowCounter({ windowSec: 60, keyPrefix: `${prefix}:away`, redis: away });
    const now = 1_700_000_000_000;
    assert.equal((await counter.hit("k", now)).current, 1);
    const second = await counter.hit("k", now + 1);
    assert.equal(second.current, 2);
    await second.undo();
    assert.equal((await counter.hit("k", now + 2)).current, 2);
  } finally {
    away.disconnect();
  }
});
