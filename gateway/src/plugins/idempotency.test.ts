// Idempotency-Key through real HTTP, with each store.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { kitErrors } from "@flotilla/kit";
import { Redis } from "ioredis";
import { fakeCatalog } from "../../test/support/fake-catalog.ts";
import { send, startGateway } from "../../test/support/traffic-gateway.ts";
import type { GatewayPlugin } from "../types.ts";
import { idempotency } from "./idempotency.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";
import { MemoryIdempotencyStore } from "./idempotency-store-memory.ts";
import { RedisIdempotencyStore } from "./idempotency-store-redis.ts";

const redis = new Redis(process.env.FLOTILLA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
after(() => redis.disconnect());

const event = (title: string) => ({
  title,
  category: "EVENT_CATEGORY_CONCERT",
  venue: "Hall",
  city: "Porto",
  startsAt: "2030-06-01T20:00:00Z",
  capacity: 100,
  priceMinor: "2500",
  currency: "EUR",
});

for (const [name, store] of [
  ["memory", new MemoryIdempotencyStore()],
  ["redis", new RedisIdempotencyStore({ redis, keyPrefix: `flotilla-test:idem-http:${randomUUID()}:` })],
] as [string, IdempotencyStore][]) {
  describe(`Idempotency-Key (${name} store)`, async () => {
    const catalog = fakeCatalog();
    const { app, base } = await startGateway(catalog.invoke, [idempotency({ store })]);
    after(() => app.close());

    const post = (key: string | undefined, body: unknown, user = "alice") =>
      send(base, "/v1/catalog/events", {
        method: "POST",
        headers: { "content-type": "application/json", "x-test-user": user, ...(key === undefined ? {} : { "idempotency-key": key }) },
        body: JSON.stringify(body),
      });
    const creates = () => catalog.calls.filter((c) => c.method === "CreateEvent").length;

    test("a retry with the same key and body gets the first response, replayed, and the service runs once", async () => {
      catalog.reset();
      const key = randomUUID();
      const first = await post(key, event("Once"));
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("idempotent-replayed"), null);
      const again = await post(key, event("Once"));
      assert.equal(again.status, 200);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.match(again.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal(again.text, first.text);
      assert.equal(creates(), 1);
      // Without a key, every POST runs.
      await post(undefined, event("Twice"));
      await post(undefined, event("Twice"));
      assert.equal(creates(), 3);
    });

    test("the same key with a different body is 422; from another user it is another key", async () => {
      catalog.reset();
      const key = randomUUID();
      assert.equal((await post(key, event("A"))).status, 200);
      const reused = await post(key, event("B"));
      assert.equal(reused.status, 422);
      assert.equal((reused.json as { code: string }).code, "GW_ERR_IDEMPOTENCY_KEY_REUSED");
      assert.equal((await post(key, event("B"), "bob")).status, 200);
      assert.equal(creates(), 2);
    });

    test("a retry while the first is still running is 409; after it finishes, the retry gets its response", async () => {
      catalog.reset();
      let finish!: () => void;
      const gate = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const key = randomUUID();
      catalog.override(async () => {
        await gate;
        return create(catalogV1.CreateEventResponseSchema, { event: { eventId: "evt_slow", title: "Slow" } });
      });
      const first = post(key, event("Slow"));
      // Wait until the first request reached the service.
      while (catalog.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
      const during = await post(key, event("Slow"));
      assert.equal(during.status, 409);
      assert.equal((during.json as { code: string }).code, "GW_ERR_IDEMPOTENCY_IN_PROGRESS");
      finish();
      const done = await first;
      const after = await post(key, event("Slow"));
      assert.equal(after.status, done.status);
      assert.equal(after.text, done.text);
      assert.equal(after.headers.get("idempotent-replayed"), "true");
    });

    test("a failure a retry may fix (5xx) is not stored: the retry runs again", async () => {
      catalog.reset();
      const key = randomUUID();
      catalog.override(async () => {
        throw kitErrors.create("KIT_ERR_UNAVAILABLE", "down");
      });
      assert.equal((await post(key, event("Flaky"))).status, 503);
      catalog.reset();
      const retry = await post(key, event("Flaky"));
      assert.equal(retry.status, 200);
      assert.equal(retry.headers.get("idempotent-replayed"), null);
      assert.equal(creates(), 1);
    });

    test("a client error is stored and replayed like a success", async () => {
      catalog.reset();
      const key = randomUUID();
      const first = await post(key, { title: "" });
      assert.equal(first.status, 400);
      const again = await post(key, { title: "" });
      assert.equal(again.status, 400);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.match(again.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(creates(), 1);
    });

    test("a malformed key is a 400 problem and reaches no service", async () => {
      catalog.reset();
      const res = await post("bad key with spaces", event("X"));
      assert.equal(res.status, 400);
      assert.equal((res.json as { code: string }).code, "GW_ERR_IDEMPOTENCY_KEY_INVALID");
      assert.equal((await post("x".repeat(256), event("X"))).status, 400);
      assert.equal(creates(), 0);
    });
  });
}

describe("Idempotency-Key and answers that must not be kept", async () => {
  const catalog = fakeCatalog();
  const store = new MemoryIdempotencyStore();
  // Stands in for a token endpoint: the route marks its answer no-store.
  const noStore = (api: Parameters<GatewayPlugin>[0]) => {
    api.addHook("preHandler", async (_request, reply) => {
      reply.header("cache-control", "no-store");
    });
  };
  const { app, base } = await startGateway(catalog.invoke, [noStore, idempotency({ store })]);
  after(() => app.close());

  test("a no-store answer is not replayed: the retry runs again", async () => {
    const key = randomUUID();
    const post = () =>
      send(base, "/v1/catalog/events", { method: "POST", headers: { "content-type": "application/json", "idempotency-key": key }, body: JSON.stringify(event("Secret")) });
    assert.equal((await post()).status, 200);
    const again = await post();
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), null);
    assert.equal(catalog.calls.filter((c) => c.method === "CreateEvent").length, 2);
  });
});
