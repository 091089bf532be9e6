import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defineAggregate, handleCommand, loadState } from "./aggregate.ts";
import { EventStore } from "./event-store.ts";
import { type Databases, isKitError, seats } from "./test-fixtures.ts";

const soldOut = isKitError("TEST_ERR_SOLD_OUT");

/** handleCommand against a real store; part of the event store conformance suite. */
export function aggregateConformance(databases: () => Databases): void {
  describe("aggregates", () => {
    it("loads, decides and appends; a refused command appends nothing", async () => {
      const { db } = await databases().open("agg");
      const store = new EventStore({ db });
      const s = "show-1";
      const r1 = await handleCommand(store, seats, s, { kind: "reserve", who: "alice", seats: 3 });
      assert.deepEqual(r1.events, [{ type: "seats.reserved.v1", who: "alice", seats: 3 }]);
      assert.equal(r1.version, 1);
      assert.equal(r1.globalPositions.length, 1);
      await handleCommand(store, seats, s, { kind: "reserve", who: "bob", seats: 2 });
      await assert.rejects(handleCommand(store, seats, s, { kind: "reserve", who: "carol", seats: 1 }), soldOut);
      const released = await handleCommand(store, seats, s, { kind: "release", who: "alice" });
      assert.deepEqual(released.state, { capacity: 5, taken: { bob: 2 }, total: 2 });
      assert.equal(released.version, 3);
      // Nothing to do: no append, the version stays.
      const again = await handleCommand(store, seats, s, { kind: "reserve", who: "bob", seats: 2 });
      assert.deepEqual([again.events, again.version, again.globalPositions], [[], 3, []]);

      const stored = await store.readStream(s);
      assert.deepEqual(
        stored.map((e) => [e.version, e.type]),
        [
          [1, "seats.reserved.v1"],
          [2, "seats.reserved.v1"],
          [3, "seats.released.v1"],
        ],
      );
      assert.deepEqual((await loadState(store, seats, s)).state, released.state);
    });

    it("retries on conflict, so concurrent commands keep the invariant: 8 people, 5 seats", async () => {
      const { db, replica } = await databases().open("aggrace");
      const stores = [new EventStore({ db }), new EventStore({ db: replica })];
      const people = Array.from({ length: 8 }, (_, i) => `p${i}`);
      const results = await Promise.allSettled(
        people.map((who, i) => handleCommand(stores[i % 2]!, seats, "show", { kind: "reserve", who, seats: 1 }, { maxAttempts: 30 })),
      );
      const reasons = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
      assert.equal(reasons.length, 3);
      for (const reason of reasons) assert.ok(soldOut(reason), `refused as sold out, not ${String(reason)}`);
      const { state, version } = await loadState(stores[0]!, seats, "show");
      assert.equal(state.total, 5);
      assert.equal(version, 5);
    });

    it("snapshots every N events, starts from the snapshot, and ignores one of another revision", async () => {
      const { db } = await databases().open("aggsnap");
      const store = new EventStore({ db });
      const s = "show-snap";
      for (const who of ["a", "b", "c"]) {
        await handleCommand(store, seats, s, { kind: "reserve", who, seats: 1 }, { snapshotEvery: 3 });
        await handleCommand(store, seats, s, { kind: "release", who }, { snapshotEvery: 3 });
      }
      const last = await handleCommand(store, seats, s, { kind: "reserve", who: "d", seats: 2 }, { snapshotEvery: 3 });
      assert.equal(last.version, 7);
      const snap = await store.loadSnapshot(s);
      assert.equal(snap?.version, 6);
      assert.deepEqual(snap?.state, { revision: 1, state: { capacity: 5, taken: {}, total: 0 } });

      const fromSnapshot = await loadState(store, seats, s);
      const replayed = await loadState(store, seats, s, { useSnapshot: false });
      assert.equal(fromSnapshot.snapshotVersion, 6);
      assert.equal(replayed.snapshotVersion, 0);
      assert.deepEqual(fromSnapshot.state, replayed.state);
      assert.deepEqual(fromSnapshot.state, last.state);

      // A planted snapshot shows that loading really starts from it, not from event 1.
      await store.saveSnapshot(s, 7, { revision: 1, state: { capacity: 99, taken: {}, total: 0 } });
      assert.equal((await loadState(store, seats, s)).state.capacity, 99);
      // The same aggregate with a new snapshot revision replays instead.
      const v2 = defineAggregate({ ...seats, snapshot: { revision: 2 } });
      const fresh = await loadState(store, v2, s);
      assert.deepEqual([fresh.snapshotVersion, fresh.state], [0, last.state]);
    });

    it("adds the given metadata to every event", async () => {
      const { db } = await databases().open("aggmeta");
      const store = new EventStore({ db });
      const metadata = { dataschema: "flotilla.test.v1.SeatsReserved", causation: "req-1" };
      await handleCommand(store, seats, "m", { kind: "reserve", who: "x", seats: 1 }, { metadata });
      assert.deepEqual((await store.readStream("m"))[0]?.metadata, metadata);
    });
  });
}
