import assert from "node:assert/strict";
import { test } from "node:test";
import { kitErrors } from "../errors/index.ts";
import { type AggregateStore, defineAggregate, handleCommand } from "./aggregate.ts";
import { isKitError, type SeatEvent, seats } from "./test-fixtures.ts";
import type { RecordedEvent } from "./types.ts";

// A store that always reports the stream as changed by someone else.
function contendedStore() {
  const calls = { append: 0, read: 0 };
  const store: AggregateStore = {
    readStream: async () => {
      calls.read++;
      return [];
    },
    loadSnapshot: async () => undefined,
    saveSnapshot: async () => {},
    append: async (streamId) => {
      calls.append++;
      throw kitErrors.create("KIT_ERR_WRONG_EXPECTED_VERSION", `stream ${streamId} changed`);
    },
  };
  return { store, calls };
}

test("decide and evolve are pure: fold replays events into state", () => {
  const events: SeatEvent[] = [
    { type: "seats.reserved.v1", who: "a", seats: 2 },
    { type: "seats.reserved.v1", who: "b", seats: 1 },
    { type: "seats.released.v1", who: "a", seats: 2 },
  ];
  assert.deepEqual(seats.fold(events), { capacity: 5, taken: { b: 1 }, total: 1 });
  assert.deepEqual(seats.initial, { capacity: 5, taken: {}, total: 0 }, "initial is not mutated");
  assert.deepEqual(seats.decide({ kind: "reserve", who: "c", seats: 4 }, seats.fold(events)), [{ type: "seats.reserved.v1", who: "c", seats: 4 }]);
  assert.throws(() => seats.decide({ kind: "reserve", who: "c", seats: 5 }, seats.fold(events)), isKitError("TEST_ERR_SOLD_OUT"));
});

test("the default JSON codec round-trips events and refuses one without a type", () => {
  const event: SeatEvent = { type: "seats.reserved.v1", who: "zoë", seats: 2 };
  const encoded = seats.codec.encode(event);
  assert.equal(encoded.type, "seats.reserved.v1");
  const recorded: RecordedEvent = { ...encoded, globalPosition: 1, streamId: "s", version: 1, id: "x", metadata: {}, recordedAt: new Date() };
  assert.deepEqual(seats.codec.decode(recorded), event);
  const untyped = defineAggregate<number, number, { type: string }>({ initial: 0, decide: () => [], evolve: (s) => s });
  assert.throws(() => untyped.codec.encode({} as { type: string }), isKitError("KIT_ERR_INVALID_ARGUMENT"));
});

test("a custom codec is used to encode and decode", () => {
  const counter = defineAggregate({
    initial: 0,
    decide: (add: number) => [add],
    evolve: (total: number, add: number) => total + add,
    codec: {
      encode: (n: number) => ({ type: "counter.added.v1", data: new Uint8Array([n]) }),
      decode: (e: RecordedEvent) => e.data[0]!,
    },
  });
  assert.deepEqual(counter.codec.encode(7), { type: "counter.added.v1", data: new Uint8Array([7]) });
  assert.equal(counter.fold([1, 2, 3]), 6);
});

test("handleCommand gives up after maxAttempts conflicts with the conflict error", async () => {
  const { store, calls } = contendedStore();
  await assert.rejects(
    handleCommand(store, seats, "s", { kind: "reserve", who: "a", seats: 1 }, { maxAttempts: 3 }),
    isKitError("KIT_ERR_WRONG_EXPECTED_VERSION"),
  );
  assert.deepEqual(calls, { append: 3, read: 3 }, "each attempt reloads before appending");
});

test("handleCommand does not retry a command that decide refuses", async () => {
  const { store, calls } = contendedStore();
  const full = defineAggregate({ ...seats, initial: { capacity: 0, taken: {}, total: 0 } });
  await assert.rejects(handleCommand(store, full, "s", { kind: "reserve", who: "a", seats: 1 }), isKitError("TEST_ERR_SOLD_OUT"));
  assert.deepEqual(calls, { append: 0, read: 1 });
});

test("handleCommand refuses nonsensical options", async () => {
  const { store } = contendedStore();
  const command = { kind: "release", who: "a" } as const;
  await assert.rejects(handleCommand(store, seats, "s", command, { maxAttempts: 0 }), isKitError("KIT_ERR_INVALID_ARGUMENT"));
  await assert.rejects(handleCommand(store, seats, "s", command, { snapshotEvery: 0 }), isKitError("KIT_ERR_INVALID_ARGUMENT"));
});
