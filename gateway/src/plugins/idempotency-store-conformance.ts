// The behaviour every IdempotencyStore must have, run against each
// implementation by idempotency-store.test.ts.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import type { IdempotencyStore, StoredResponse } from "./idempotency-store.ts";

const response: StoredResponse = { status: 201, contentType: "application/json; charset=utf-8", body: '{"id":"1"}' };

export function idempotencyStoreConformance(name: string, open: () => IdempotencyStore): void {
  describe(`IdempotencyStore conformance: ${name}`, () => {
    const key = () => `k-${randomUUID()}`;

    test("the first begin claims the key; others see it running with its fingerprint", async () => {
      const store = open();
      const k = key();
      const first = await store.begin(k, "fp1", 10_000);
      assert.equal(first.state, "started");
      assert.deepEqual(await store.begin(k, "fp2", 10_000), { state: "running", fingerprint: "fp1" });
      await store.close();
    });

    test("complete stores the response, which later begins get back", async () => {
      const store = open();
      const k = key();
      const first = await store.begin(k, "fp", 10_000);
      assert.equal(first.state, "started");
      if (first.state !== "started") return;
      await store.complete(k, first.token, "fp", response, 10_000);
      assert.deepEqual(await store.begin(k, "fp", 10_000), { state: "done", fingerprint: "fp", response });
      await store.close();
    });

    test("release frees the key for the next request; a stale token changes nothing", async () => {
      const store = open();
      const k = key();
      const first = await store.begin(k, "fp", 10_000);
      if (first.state !== "started") assert.fail("not started");
      await store.release(k, "someone-else");
      assert.equal((await store.begin(k, "fp", 10_000)).state, "running");
      await store.complete(k, "someone-else", "fp", response, 10_000);
      assert.equal((await store.begin(k, "fp", 10_000)).state, "running");
      await store.release(k, first.token);
      assert.equal((await store.begin(k, "fp", 10_000)).state, "started");
      await store.close();
    });

    test("a claim expires after its lock time (its holder died); a response after its TTL", async () => {
      const store = open();
      const k = key();
      const first = await store.begin(k, "fp", 30);
      assert.equal(first.state, "started");
      await sleep(80);
      const second = await store.begin(k, "fp", 10_000);
      assert.equal(second.state, "started");
      if (second.state !== "started") return;
      // The first holder's late completion is ignored.
      if (first.state === "started") await store.complete(k, first.token, "fp", response, 10_000);
      assert.equal((await store.begin(k, "fp", 10_000)).state, "running");
      await store.complete(k, second.token, "fp", response, 30);
      await sleep(80);
      assert.equal((await store.begin(k, "fp", 10_000)).state, "started");
      await store.close();
    });
  });
}
