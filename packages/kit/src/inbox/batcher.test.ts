import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CloudEvent } from "../bus/types.ts";
import type { Database, Queryable } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import { count, DB_BACKENDS, type DbBackend, type TestDatabases, testEvent, testType, unique } from "../outbox/test-fixtures.ts";
import { InboxBatcher } from "./batcher.ts";

const EFFECTS = "CREATE TABLE IF NOT EXISTS effects (event_id text NOT NULL, consumer text NOT NULL, txid text NOT NULL)";

// Records the effect with the transaction it ran in, to see which events shared one.
const recordEffect = (consumer: string) => async (event: CloudEvent, tx: Queryable) => {
  await tx.query("INSERT INTO effects (event_id, consumer, txid) VALUES ($1, $2, txid_current()::text)", [event.id, consumer]);
};

async function settled(promises: readonly Promise<boolean>[]): Promise<PromiseSettledResult<boolean>[]> {
  return Promise.allSettled(promises);
}

function batcherSuite(backend: DbBackend): void {
  describe(`inbox batcher on ${backend.name}`, () => {
    let dbs: TestDatabases;
    let db: Database;
    before(async () => {
      dbs = await backend.create();
      db = await dbs.open("batcher");
      await db.exec(EFFECTS);
    });
    after(async () => {
      await dbs.close();
    });

    it("applies events that arrive together in one transaction, each once, and skips copies", async () => {
      const consumer = `c-${unique()}`;
      let calls = 0;
      const handle = recordEffect(consumer);
      const batcher = new InboxBatcher({
        db,
        consumer,
        maxBatch: 100,
        maxTransactions: 2,
        handler: async (event, tx) => {
          calls++;
          await handle(event, tx);
        },
      });
      const type = testType("batch");
      const events = Array.from({ length: 20 }, () => testEvent(type));
      const first = events[0] as CloudEvent;
      // A copy in the same batch, and one arriving after the event committed.
      const outcomes = await settled([...events, first].map((e) => batcher.apply(e)));
      assert.deepEqual(
        outcomes.map((o) => (o.status === "fulfilled" ? o.value : "rejected")),
        [...events.map(() => true), false],
      );
      assert.equal(await batcher.apply(first), false);
      assert.equal(calls, 20);
      const rows = await db.query<{ event_id: string; txid: string }>("SELECT event_id, txid FROM effects WHERE consumer = $1", [consumer]);
      assert.deepEqual(rows.map((r) => r.event_id).sort(), events.map((e) => e.id).sort());
      assert.equal(new Set(rows.map((r) => r.txid)).size, 1, "one transaction for the batch");
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox WHERE consumer = $1", [consumer]), 20);
    });

    it("a handler that throws fails its own event only: the others are applied without it", async () => {
      const consumer = `c-${unique()}`;
      const type = testType("poison");
      const events = Array.from({ length: 10 }, () => testEvent(type));
      const poison = events[4] as CloudEvent;
      const runs = new Map<string, number>();
      const handle = recordEffect(consumer);
      const batcher = new InboxBatcher({
        db,
        consumer,
        maxBatch: 100,
        maxTransactions: 1,
        handler: async (event, tx) => {
          runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
          await handle(event, tx);
          if (event.id === poison.id) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "cannot handle this one");
        },
      });
      const outcomes = await settled(events.map((e) => batcher.apply(e)));
      for (const [i, outcome] of outcomes.entries()) {
        if (i === 4) {
          assert.equal(outcome.status, "rejected");
          assert.ok(kitErrors.is((outcome as PromiseRejectedResult).reason, "KIT_ERR_INVALID_ARGUMENT"));
        } else {
          assert.deepEqual(outcome, { status: "fulfilled", value: true });
        }
      }
      // The poison event ran once; those before it twice (the first run was rolled back).
      assert.equal(runs.get(poison.id), 1);
      assert.equal(runs.get(events[0]?.id as string), 2);
      assert.equal(runs.get(events[9]?.id as string), 1);
      const applied = await db.query<{ event_id: string }>("SELECT event_id FROM effects WHERE consumer = $1", [consumer]);
      assert.deepEqual(
        applied.map((r) => r.event_id).sort(),
        events
          .filter((e) => e !== poison)
          .map((e) => e.id)
          .sort(),
      );
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox WHERE consumer = $1 AND event_id = $2", [consumer, poison.id]), 0);
    });

    it("a failure of the database fails every event of the batch, and applies none", async () => {
      const consumer = `c-${unique()}`;
      const type = testType("dbfail");
      const events = Array.from({ length: 5 }, () => testEvent(type));
      const handle = recordEffect(consumer);
      let failing = true;
      // A batcher on a database whose commit fails: as if the server went away at COMMIT.
      const broken: Database = {
        service: db.service,
        query: (sql, params) => db.query(sql, params),
        exec: (sql) => db.exec(sql),
        close: () => db.close(),
        transaction: async (fn) => {
          const result = await db.transaction(async (tx) => {
            const value = await fn(tx);
            if (failing) throw kitErrors.create("KIT_ERR_DB_UNAVAILABLE", "test: connection lost at commit");
            return value;
          });
          return result;
        },
      };
      const batcher = new InboxBatcher({ db: broken, consumer, maxBatch: 100, maxTransactions: 1, handler: handle });
      const outcomes = await settled(events.map((e) => batcher.apply(e)));
      assert.ok(outcomes.every((o) => o.status === "rejected" && kitErrors.is(o.reason, "KIT_ERR_DB_UNAVAILABLE")));
      assert.equal(await count(db, "SELECT count(*) AS n FROM effects WHERE consumer = $1", [consumer]), 0);
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox WHERE consumer = $1", [consumer]), 0);
      failing = false;
      assert.deepEqual(await Promise.all(events.map((e) => batcher.apply(e))), [true, true, true, true, true]);
      assert.equal(await count(db, "SELECT count(*) AS n FROM effects WHERE consumer = $1", [consumer]), 5);
    });

    it("a batch handler gets the new events of a transaction in one call, in arrival order, without copies", async () => {
      const consumer = `c-${unique()}`;
      const type = testType("together");
      const calls: string[][] = [];
      const handle = recordEffect(consumer);
      const batcher = new InboxBatcher({
        db,
        consumer,
        maxBatch: 100,
        maxTransactions: 1,
        handler: async () => assert.fail("the per-event handler is for events applied alone"),
        batchHandler: async (events, tx) => {
          calls.push(events.map((e) => e.id));
          for (const event of events) await handle(event, tx);
        },
      });
      const events = Array.from({ length: 12 }, () => testEvent(type));
      const first = events[0] as CloudEvent;
      const outcomes = await Promise.all([...events, first].map((e) => batcher.apply(e)));
      assert.deepEqual(outcomes, [...events.map(() => true), false]);
      assert.deepEqual(calls, [events.map((e) => e.id)]);
      const rows = await db.query<{ txid: string }>("SELECT txid FROM effects WHERE consumer = $1", [consumer]);
      assert.equal(rows.length, 12);
      assert.equal(new Set(rows.map((r) => r.txid)).size, 1);
    });

    it("a batch handler that throws has each event applied again alone: only the poison event fails", async () => {
      const consumer = `c-${unique()}`;
      const type = testType("together-poison");
      const events = Array.from({ length: 6 }, () => testEvent(type));
      const poison = events[2] as CloudEvent;
      const sizes: number[] = [];
      const handle = recordEffect(consumer);
      const batchHandler = async (batch: readonly CloudEvent[], tx: Queryable) => {
        sizes.push(batch.length);
        for (const event of batch) {
          await handle(event, tx);
          if (event.id === poison.id) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "cannot handle this one");
        }
      };
      const batcher = new InboxBatcher({ db, consumer, maxBatch: 100, maxTransactions: 1, handler: (event, tx) => batchHandler([event], tx), batchHandler });
      const outcomes = await settled(events.map((e) => batcher.apply(e)));
      for (const [i, outcome] of outcomes.entries()) {
        if (i === 2) assert.ok(outcome.status === "rejected" && kitErrors.is(outcome.reason, "KIT_ERR_INVALID_ARGUMENT"));
        else assert.deepEqual(outcome, { status: "fulfilled", value: true });
      }
      // One call with all six, rolled back; then one call per event.
      assert.deepEqual(sizes, [6, 1, 1, 1, 1, 1, 1]);
      const applied = await db.query<{ event_id: string }>("SELECT event_id FROM effects WHERE consumer = $1", [consumer]);
      assert.deepEqual(
        applied.map((r) => r.event_id).sort(),
        events
          .filter((e) => e !== poison)
          .map((e) => e.id)
          .sort(),
      );
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox WHERE consumer = $1 AND event_id = $2", [consumer, poison.id]), 0);
    });

    it("never holds more than maxBatch events in one transaction", async () => {
      const consumer = `c-${unique()}`;
      const type = testType("split");
      const batcher = new InboxBatcher({ db, consumer, maxBatch: 7, maxTransactions: 2, handler: recordEffect(consumer) });
      const events = Array.from({ length: 30 }, () => testEvent(type));
      assert.ok((await Promise.all(events.map((e) => batcher.apply(e)))).every((applied) => applied));
      const perTx = await db.query<{ n: string }>("SELECT count(*) AS n FROM effects WHERE consumer = $1 GROUP BY txid", [consumer]);
      assert.equal(perTx.reduce((sum, r) => sum + Number(r.n), 0), 30);
      assert.ok(perTx.every((r) => Number(r.n) <= 7));
      assert.ok(perTx.length >= 5);
    });
  });
}

for (const backend of DB_BACKENDS) batcherSuite(backend);
