// Rate limits through real HTTP, in-process counters.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { fakeCatalog } from "../../test/support/fake-catalog.ts";
import { send, startGateway } from "../../test/support/traffic-gateway.ts";
import { defaultRateLimits, type RateLimitSettings, rateLimit } from "./rate-limit.ts";

const catalog = fakeCatalog();
let settings: RateLimitSettings;
let app: FastifyInstance;
let base: string;

before(async () => {
  ({ app, base } = await startGateway(catalog.invoke, [rateLimit({ settings: () => settings })]));
});
after(() => app.close());
beforeEach(() => catalog.reset());

let run = 0;
/** Fresh caller ids per test: counters outlive a test. */
const fresh = (name: string) => `${name}-${++run}`;

describe("rate limits", () => {
  test("per user: the limit passes, the next is 429 problem+json with Retry-After, and the service is not called", async () => {
    settings = { enabled: true, classes: { read: { user: { limit: 3, windowSec: 60 } } }, routes: {} };
    const user = fresh("alice");
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await send(base, "/v1/catalog/events", { headers: { "x-test-user": user } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("ratelimit-limit"), "3");
      remaining.push(res.headers.get("ratelimit-remaining") ?? "");
      assert.ok(Number(res.headers.get("ratelimit-reset")) >= 1);
    }
    assert.deepEqual(remaining, ["2", "1", "0"]);
    const calls = catalog.calls.length;
    const limited = await send(base, "/v1/catalog/events", { headers: { "x-test-user": user } });
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal((limited.json as { code: string }).code, "GW_ERR_RATE_LIMITED");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal(limited.headers.get("ratelimit-remaining"), "0");
    assert.equal(catalog.calls.length, calls);
    // Another user is not affected.
    assert.equal((await send(base, "/v1/catalog/events", { headers: { "x-test-user": fresh("bob") } })).status, 200);
  });

  test("per IP, also for anonymous callers", async () => {
    // Every request from this test comes from 127.0.0.1: a class of its own keeps other tests' counts out.
    settings = { enabled: true, classes: { ipOnly: { ip: { limit: 2, windowSec: 60 } } }, routes: { CatalogService_GetEvent: "ipOnly" } };
    assert.equal((await send(base, "/v1/catalog/events/evt_1")).status, 200);
    assert.equal((await send(base, "/v1/catalog/events/evt_1")).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await send(base, "/v1/catalog/events/evt_1")).status, 429);
    // The list route is in another class, with no limit.
    assert.equal((await send(base, "/v1/catalog/events")).status, 200);
  });

  test("per app key, and limits per route class: writes are tighter than reads", async () => {
    settings = {
      enabled: true,
      classes: { read: { app: { limit: 5, windowSec: 60 } }, write: { app: { limit: 1, windowSec: 60 } } },
      routes: {},
    };
    const app = fresh("ios-app");
    const post = () =>
      send(base, "/v1/catalog/events", { method: "POST", headers: { "x-test-app": app, "content-type": "application/json" }, body: JSON.stringify({ title: "" }) });
    assert.equal((await post()).status, 400); // reached the service (validation), counted
    assert.equal((await post()).status, 429);
    assert.equal((await send(base, "/v1/catalog/events", { headers: { "x-test-app": app } })).status, 200);
  });

  test("limits change at runtime, without a restart", async () => {
    const user = fresh("carol");
    settings = { enabled: true, classes: { read: { user: { limit: 1, windowSec: 60 } } }, routes: {} };
    assert.equal((await send(base, "/v1/catalog/events", { headers: { "x-test-user": user } })).status, 200);
    assert.equal((await send(base, "/v1/catalog/events", { headers: { "x-test-user": user } })).status, 429);
    settings = { enabled: true, classes: { read: { user: { limit: 10, windowSec: 60 } } }, routes: {} };
    assert.equal((await send(base, "/v1/catalog/events", { headers: { "x-test-user": user } })).status, 200);
    settings = { ...settings, enabled: false };
    const res = await send(base, "/v1/catalog/events", { headers: { "x-test-user": user } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit-limit"), null);
  });

  test("the defaults limit reads per user and app, writes also per IP", () => {
    const { read, write } = defaultRateLimits.classes;
    assert.ok(read?.user && read.app && read.ip?.limit === 0);
    assert.ok(write?.user && write.app && (write.ip?.limit ?? 0) > 0);
    assert.ok(write.user.limit < read.user.limit);
  });
});
