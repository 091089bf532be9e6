import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CloudEvent } from "../bus/types.ts";
import type { Database, DatabaseProvider, Queryable } from "../db/types.ts";
import { FlotillaError } from "../errors/index.ts";
import { aggregateConformance } from "./aggregate-conformance.ts";
import { EventStore } from "./event-store.ts";
import { bytes, type Databases, isKitError, testDatabases } from "./test-fixtures.ts";
import type { NewEvent, RecordedEvent } from "./types.ts";

export interface EventStoreConformanceOptions {
  /** Another provider on the same backend (another pool), so racing writers really run at once. */
  makeReplica?: () => Promise<DatabaseProvider>;
}

const CONFLICT = "KIT_ERR_WRONG_EXPECTED_VERSION";
const isConflict = isKitError(CONFLICT);

function ev(type: string, text: string, extra: Partial<NewEvent> = {}): NewEvent {
  return { type, data: bytes(text), ...extra };
}

/**
 * The behaviour every backend of the event store must have, run by each
 * provider's test file:
 *
 *   eventStoreConformance("pglite", async () => new PgliteProvider());
 */
export function eventStoreConformance(name: string, makeProvider: () => Promise<DatabaseProvider>, options: EventStoreConformanceOptions = {}): void {
  describe(`${name} event store conformance`, () => {
    let provider: DatabaseProvider;
    let replicaProvider: DatabaseProvider | undefined;
    let dbs: Databases;

    before(async () => {
      provider = await makeProvider();
      replicaProvider = await options.makeReplica?.();
      dbs = testDatabases("es", provider, replicaProvider);
    });
    after(async () => {
      await dbs.close();
      await replicaProvider?.close();
      await provider.close();
    });

    it("appends to streams and reads them back by stream and in global order", async () => {
      const { db } = await dbs.open("read");
      const store = new EventStore({ db });
      const a = await store.append("a", "no_stream", [ev("t.one.v1", "a1", { id: "id-a1", metadata: { by: "me", n: 1 } }), ev("t.two.v1", "a2")]);
      const b = await store.append("b", "no_stream", [ev("t.one.v1", "b1")]);
      const a3 = await store.append("a", 2, [ev("t.three.v1", "a3")]);
      assert.equal(a.nextVersion, 2);
      assert.equal(b.nextVersion, 1);
      assert.equal(a3.nextVersion, 3);
      const positions = [...a.globalPositions, ...b.globalPositions, ...a3.globalPositions];
      assert.equal(positions.length, 4);
      assert.deepEqual([...positions].sort((x, y) => x - y), positions, "positions grow in append order");

      const stream = await store.readStream("a");
      assert.deepEqual(
        stream.map((e) => [e.streamId, e.version, e.type, new TextDecoder().decode(e.data)]),
        [
          ["a", 1, "t.one.v1", "a1"],
          ["a", 2, "t.two.v1", "a2"],
          ["a", 3, "t.three.v1", "a3"],
        ],
      );
      const first = stream[0]!;
      assert.equal(first.id, "id-a1");
      assert.deepEqual(first.metadata, { by: "me", n: 1 });
      assert.deepEqual(stream[1]!.metadata, {});
      assert.match(stream[1]!.id, /^[0-9a-f-]{36}$/);
      assert.equal(Object.getPrototypeOf(first.data), Uint8Array.prototype);
      assert.ok(first.recordedAt instanceof Date);
      assert.deepEqual(
        stream.map((e) => e.globalPosition),
        [...a.globalPositions, ...a3.globalPositions],
      );

      assert.deepEqual(
        (await store.readStream("a", { fromVersion: 2, limit: 1 })).map((e) => e.version),
        [2],
      );
      assert.deepEqual(await store.readStream("a", { fromVersion: 4 }), []);
      assert.deepEqual(await store.readStream("nobody"), []);

      const all = await store.readAll();
      assert.deepEqual(
        all.map((e) => `${e.streamId}${e.version}`),
        ["a1", "a2", "b1", "a3"],
      );
      assert.deepEqual(
        all.map((e) => e.globalPosition),
        positions,
      );
      const tail = await store.readAll({ fromPosition: positions[1]!, limit: 2 });
      assert.deepEqual(
        tail.map((e) => `${e.streamId}${e.version}`),
        ["a2", "b1"],
      );
      assert.deepEqual(await store.readAll({ fromPosition: positions[3]! + 1 }), []);
    });

    it("checks the expected version: no_stream, exact and any", async () => {
      const { db } = await dbs.open("expect");
      const store = new EventStore({ db });
      await store.append("s", "no_stream", [ev("t.v1", "1")]);
      await assert.rejects(store.append("s", "no_stream", [ev("t.v1", "x")]), (error: unknown) => {
        assert.ok(error instanceof FlotillaError);
        assert.equal(error.code, CONFLICT);
        assert.equal(error.rpc, "aborted");
        assert.equal(error.retryable, true);
        assert.match(error.message, /stream s: expected version no_stream, but it is at version 1/);
        return true;
      });
      await assert.rejects(store.append("s", 0, [ev("t.v1", "x")]), isConflict);
      await assert.rejects(store.append("s", 2, [ev("t.v1", "x")]), isConflict);
      assert.equal((await store.append("s", 1, [ev("t.v1", "2")])).nextVersion, 2);
      await assert.rejects(store.append("s", 1, [ev("t.v1", "x")]), isConflict);
      assert.equal((await store.append("s", "any", [ev("t.v1", "3"), ev("t.v1", "4")])).nextVersion, 4);
      assert.equal((await store.append("fresh", "any", [ev("t.v1", "1")])).nextVersion, 1);
      assert.equal((await store.append("zero", 0, [ev("t.v1", "1")])).nextVersion, 1);
      await assert.rejects(store.append("new", 1, [ev("t.v1", "x")]), /it has no event/);
      // An empty append only checks.
      assert.deepEqual(await store.append("s", 4, []), { nextVersion: 4, globalPositions: [] });
      await assert.rejects(store.append("s", 3, []), isConflict);
      // Nothing of a refused append was written.
      assert.deepEqual(
        (await store.readStream("s")).map((e) => new TextDecoder().decode(e.data)),
        ["1", "2", "3", "4"],
      );
      assert.deepEqual(await store.readStream("new"), []);
    });

    it("refuses bad input before writing, and a duplicate event id writes nothing", async () => {
      const { db } = await dbs.open("invalid");
      const store = new EventStore({ db });
      const invalid = isKitError("KIT_ERR_INVALID_ARGUMENT");
      await assert.rejects(store.append("", "any", [ev("t.v1", "x")]), invalid);
      await assert.rejects(store.append("s", -1, [ev("t.v1", "x")]), invalid);
      await assert.rejects(store.append("s", 1.5, [ev("t.v1", "x")]), invalid);
      await assert.rejects(store.append("s", "any", [{ type: "t.v1", data: "text" as unknown as Uint8Array }]), invalid);
      await assert.rejects(store.append("s", "any", [{ type: "", data: bytes("x") }]), invalid);
      await assert.rejects(store.readAll({ fromPosition: 0 }), invalid);
      await assert.rejects(store.readStream("s", { limit: 0 }), invalid);
      await store.append("s", "no_stream", [ev("t.v1", "1", { id: "dup" })]);
      await assert.rejects(store.append("s", 1, [ev("t.v1", "2"), ev("t.v1", "3", { id: "dup" })]), (error: unknown) => {
        assert.ok(invalid(error));
        assert.equal((error as FlotillaError).retryable, false);
        return true;
      });
      await assert.rejects(store.append("t", "no_stream", [ev("t.v1", "x", { id: "same" }), ev("t.v1", "y", { id: "same" })]), invalid);
      assert.equal((await store.readAll()).length, 1);
    });

    it("of two writers racing with the same expected version, exactly one wins (20 races)", async () => {
      const { db, replica } = await dbs.open("race");
      const stores = [new EventStore({ db }), new EventStore({ db: replica })];
      for (let round = 0; round < 20; round++) {
        const stream = `race-${round}`;
        await stores[0]!.append(stream, "no_stream", [ev("t.v1", "seed")]);
        const results = await Promise.allSettled(stores.map((s, i) => s.append(stream, 1, [ev("t.v1", `writer-${i}`)])));
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected");
        assert.equal(won.length, 1, `round ${round}: one winner`);
        assert.equal(lost.length, 1, `round ${round}: one loser`);
        assert.ok(isConflict(lost[0]!.reason), `round ${round}: the loser gets ${CONFLICT}, not ${String(lost[0]!.reason)}`);
        const events = await stores[1]!.readStream(stream);
        assert.deepEqual(
          events.map((e) => e.version),
          [1, 2],
        );
      }
    });

    it("readAll tailed during concurrent appends sees every event exactly once, in order", async () => {
      const { db, replica } = await dbs.open("tail");
      const writers = 5;
      const perWriter = 50;
      const stores = [new EventStore({ db }), new EventStore({ db: replica })];
      const reader = stores[1]!;
      const appended = new Set<string>();
      let writing = true;
      const write = async (w: number) => {
        for (let i = 0; i < perWriter; i++) {
          const id = `w${w}-${i}`;
          // Every other append has two events, so batches interleave too.
          const batch = i % 2 === 0 ? [ev("t.v1", id, { id })] : [ev("t.v1", id, { id }), ev("t.v1", `${id}b`, { id: `${id}b` })];
          await stores[w % 2]!.append(`writer-${w}`, "any", batch);
          for (const e of batch) appended.add(e.id!);
        }
      };
      const seen: RecordedEvent[] = [];
      const tail = async () => {
        let next = 1;
        for (;;) {
          const done = !writing;
          const page = await reader.readAll({ fromPosition: next, limit: 17 });
          seen.push(...page);
          if (page.length > 0) next = page.at(-1)!.globalPosition + 1;
          else if (done) return;
          else await new Promise((r) => setImmediate(r));
        }
      };
      const tailing = tail();
      await Promise.all(Array.from({ length: writers }, (_, w) => write(w)));
      writing = false;
      await tailing;

      const ids = seen.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, "no event twice");
      assert.equal(ids.length, appended.size, "no event missed");
      assert.deepEqual(new Set(ids), appended);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.globalPosition > seen[i - 1]!.globalPosition, "positions increase");
      for (let w = 0; w < writers; w++) {
        const versions = seen.filter((e) => e.streamId === `writer-${w}`).map((e) => e.version);
        assert.deepEqual(
          versions,
          Array.from({ length: versions.length }, (_, i) => i + 1),
        );
      }
    });

    it("saves and loads snapshots; an older one never replaces a newer one", async () => {
      const { db } = await dbs.open("snap");
      const store = new EventStore({ db });
      assert.equal(await store.loadSnapshot("s"), undefined);
      await store.saveSnapshot("s", 2, { count: 2, names: ["a", "b"], nested: { ok: true } });
      const two = await store.loadSnapshot("s");
      assert.equal(two?.version, 2);
      assert.deepEqual(two?.state, { count: 2, names: ["a", "b"], nested: { ok: true } });
      assert.ok(two?.takenAt instanceof Date);
      await store.saveSnapshot("s", 5, "five");
      await store.saveSnapshot("s", 3, "three");
      assert.deepEqual(await store.loadSnapshot("s").then((s) => [s?.version, s?.state]), [5, "five"]);
      await store.saveSnapshot("s", 5, ["again"]);
      assert.deepEqual((await store.loadSnapshot("s"))?.state, ["again"]);
      assert.equal(await store.loadSnapshot("other"), undefined);
      await assert.rejects(store.saveSnapshot("s", 0, {}), isKitError("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(store.saveSnapshot("s", 6, undefined), isKitError("KIT_ERR_INVALID_ARGUMENT"));
    });

    describe("publish hook", () => {
      const table = "CREATE TABLE published (id text PRIMARY KEY, type text, subject text, source text, dataschema text, time text, traceparent text, data bytea, stored int)";
      // The fake outbox: writes each event to a table through the append's transaction.
      const outbox = (calls: CloudEvent[][], fail?: (events: readonly CloudEvent[]) => boolean) => async (tx: Queryable, events: readonly CloudEvent[]) => {
        calls.push([...events]);
        for (const e of events) {
          // What the append wrote is visible here: the same transaction.
          const [row] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM flotilla_events WHERE event_id = $1", [e.id]);
          await tx.query("INSERT INTO published VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", [
            e.id,
            e.type,
            e.subject,
            e.source,
            e.dataschema,
            e.time,
            e.traceparent ?? null,
            e.data,
            row?.n,
          ]);
        }
        if (fail?.(events)) throw new Error("outbox full");
      };
      const schema = { dataschema: "flotilla.test.v1.Thing" };
      const publishedIds = async (db: Database) => (await db.query<{ id: string }>("SELECT id FROM published ORDER BY id")).map((r) => r.id);

      it("hands the appended events to the hook as CloudEvents inside the append transaction", async () => {
        const { db } = await dbs.open("pub");
        await db.exec(table);
        const calls: CloudEvent[][] = [];
        const store = new EventStore({ db, publish: outbox(calls), source: "/flotilla/test" });
        const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await store.append("order-1", "no_stream", [
          ev("order.placed.v1", "p", { id: "e1", metadata: { ...schema, traceparent } }),
          ev("order.paid.v1", "q", { id: "e2", metadata: schema }),
        ]);
        assert.equal(calls.length, 1);
        assert.deepEqual(
          calls[0]!.map((e) => [e.specversion, e.id, e.type, e.subject, e.source, e.datacontenttype, e.dataschema, e.traceparent]),
          [
            ["1.0", "e1", "order.placed.v1", "order-1", "/flotilla/test", "application/protobuf", "flotilla.test.v1.Thing", traceparent],
            ["1.0", "e2", "order.paid.v1", "order-1", "/flotilla/test", "application/protobuf", "flotilla.test.v1.Thing", undefined],
          ],
        );
        const [stored] = await store.readStream("order-1");
        assert.equal(calls[0]![0]!.time, stored!.recordedAt.toISOString());
        const rows = await db.query<{ id: string; stored: number; data: Uint8Array }>("SELECT id, stored, data FROM published ORDER BY id");
        assert.deepEqual(
          rows.map((r) => [r.id, r.stored, new TextDecoder().decode(r.data)]),
          [
            ["e1", 1, "p"],
            ["e2", 1, "q"],
          ],
        );
        // The default source names the service.
        const other = new EventStore({ db, publish: outbox(calls) });
        await other.append("order-2", "no_stream", [ev("order.placed.v1", "p", { id: "e3", metadata: schema })]);
        assert.equal(calls[1]![0]!.source, `/flotilla/${db.service}`);
      });

      it("rolls the events back with the hook's writes when the hook fails, and the reverse", async () => {
        const { db } = await dbs.open("pubfail");
        await db.exec(table);
        const calls: CloudEvent[][] = [];
        const store = new EventStore({ db, publish: outbox(calls, (events) => events.some((e) => e.type === "boom.v1")) });
        await store.append("s", "no_stream", [ev("ok.v1", "1", { id: "ok1", metadata: schema })]);
        await assert.rejects(store.append("s", 1, [ev("ok.v1", "2", { id: "ok2", metadata: schema }), ev("boom.v1", "3", { id: "b", metadata: schema })]), /outbox full/);
        assert.deepEqual(await publishedIds(db), ["ok1"], "the hook's writes were rolled back");
        assert.deepEqual(
          (await store.readStream("s")).map((e) => e.id),
          ["ok1"],
          "the events were rolled back",
        );
        // A conflicting append never reaches the hook.
        const before = calls.length;
        await assert.rejects(store.append("s", 0, [ev("ok.v1", "x", { id: "x", metadata: schema })]), isConflict);
        assert.equal(calls.length, before);
        // An event that cannot be published is refused whole.
        await assert.rejects(store.append("s", 1, [ev("ok.v1", "y", { id: "y" })]), /dataschema/);
        assert.deepEqual(
          (await store.readStream("s")).map((e) => e.id),
          ["ok1"],
        );
        assert.deepEqual(await publishedIds(db), ["ok1"]);
        // The version freed by the rollbacks is taken by the next append.
        assert.equal((await store.append("s", 1, [ev("ok.v1", "2", { id: "ok2", metadata: schema })])).nextVersion, 2);
        assert.deepEqual(await publishedIds(db), ["ok1", "ok2"]);
      });
    });

    it("tells local listeners after a committed append only", async () => {
      const { db } = await dbs.open("listen");
      const store = new EventStore({ db });
      let calls = 0;
      const off = store.onAppended(() => calls++);
      await store.append("s", "no_stream", [ev("t.v1", "1")]);
      await assert.rejects(store.append("s", "no_stream", [ev("t.v1", "2")]), isConflict);
      await store.append("s", 1, []);
      assert.equal(calls, 1);
      off();
      await store.append("s", 1, [ev("t.v1", "2")]);
      assert.equal(calls, 1);
    });

    aggregateConformance(() => dbs);
  });
}
