import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { busConformance } from "./conformance.ts";
import { eventId } from "./event-id.ts";
import { MemoryBus } from "./memory.ts";
import type { CloudEvent, Delivery } from "./types.ts";

busConformance("memory", async () => {
  const bus = new MemoryBus();
  return { bus, other: async () => bus };
});

const event = (type: string): CloudEvent => ({
  specversion: "1.0",
  id: eventId(),
  source: "/test",
  type,
  time: new Date().toISOString(),
  datacontenttype: "application/protobuf",
  dataschema: "test.v1.Probe",
  data: randomBytes(4),
});

test("each MemoryBus is a log of its own", async () => {
  const [a, b] = [new MemoryBus(), new MemoryBus()];
  await a.publish([event("t.v1")]);
  const seen: Delivery[] = [];
  await b.subscribe({ consumer: "c", type: "t.v1" }, async (d) => {
    seen.push(d);
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(seen.length, 0);
  await Promise.all([a.close(), b.close()]);
});

test("a handler mutating its event's data does not change what other consumers get", async () => {
  const bus = new MemoryBus();
  const sent = event("t.v1");
  const original = [...sent.data];
  const got: number[][] = [];
  const handler = async (d: Delivery) => {
    got.push([...d.event.data]);
    d.event.data.fill(0);
  };
  await bus.subscribe({ consumer: "one", type: "t.v1" }, handler);
  await bus.publish([sent]);
  sent.data.fill(7);
  await bus.subscribe({ consumer: "two", type: "t.v1" }, handler);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(got, [original, original]);
  await bus.close();
});

test("an id republished after the duplicate window is stored again", async () => {
  const bus = new MemoryBus({ duplicateWindowMs: 30 });
  const sent = event("t.v1");
  await bus.publish([sent]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await bus.publish([sent]);
  const seen: string[] = [];
  await bus.subscribe({ consumer: "c", type: "t.v1" }, async (d) => {
    seen.push(d.event.id);
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(seen, [sent.id, sent.id]);
  await bus.close();
});

test("a failed event waits for its backoff even across stop and a new subscription", async () => {
  const bus = new MemoryBus();
  const attempts: number[] = [];
  let failedAt = 0;
  const first = await bus.subscribe({ consumer: "c", type: "t.v1", backoffMs: [200] }, async (d) => {
    attempts.push(d.attempt);
    failedAt = Date.now();
    throw new Error("no");
  });
  await bus.publish([event("t.v1")]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await first.stop();
  let at = 0;
  await new Promise<void>((resolve) => {
    void bus.subscribe({ consumer: "c", type: "t.v1" }, async (d) => {
      attempts.push(d.attempt);
      at = Date.now();
      resolve();
    });
  });
  assert.deepEqual(attempts, [1, 2]);
  // Counted from the failure, not from the stop: a loaded machine may take long to get there.
  assert.ok(at - failedAt >= 190, `redelivered ${at - failedAt} ms after the failure`);
  await bus.close();
});
