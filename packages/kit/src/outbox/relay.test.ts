import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { CloudEvent, EventBus } from "../bus/types.ts";
import { FlotillaError } from "../errors/index.ts";
import { enqueue } from "./enqueue.ts";
import { OutboxRelay } from "./relay.ts";
import {
  BUS_BACKENDS,
  type BusBackend,
  collect,
  count,
  DB_BACKENDS,
  type DbBackend,
  SpyBus,
  type TestBroker,
  type TestDatabases,
  testEvent,
  testType,
  waitUntil,
  warmUpPglite,
} from "./test-fixtures.ts";

const pending = (db: Parameters<typeof count>[0]) => count(db, "SELECT count(*) AS n FROM flotilla_outbox");

function relaySuite(dbBackend: DbBackend, busBackend: BusBackend): void {
  describe(`outbox relay on ${dbBackend.name} + ${busBackend.name}`, { concurrency: 1 }, () => {
    let dbs: TestDatabases;
    let broker: TestBroker;
    const relays: OutboxRelay[] = [];
    const track = (relay: OutboxRelay) => {
      relays.push(relay);
      return relay;
    };

    before(async () => {
      dbs = await dbBackend.create();
      broker = await busBackend.create();
    });
    after(async () => {
      await Promise.all(relays.map((r) => r.stop()));
      await broker.close();
      await dbs.close();
    });

    it("publishes nothing for events enqueued in a transaction that rolled back", async () => {
      const db = await dbs.open("rollback");
      const bus = new SpyBus(await broker.connect());
      const type = testType("rollback");
      await assert.rejects(
        db.transaction(async (tx) => {
          await enqueue(tx, [testEvent(type), testEvent(type)]);
          throw new Error("the write failed");
        }),
        /the write failed/,
      );
      const relay = track(new OutboxRelay({ db, bus }));
      assert.equal(await relay.publishDue(), 0);
      assert.equal(await pending(db), 0);
      assert.deepEqual(bus.calls, []);
    });

    it("publishes committed events once, in position order, as they were written, and empties the outbox", async () => {
      const db = await dbs.open("commit");
      const bus = new SpyBus(await broker.connect());
      const type = testType("commit");
      const { events: received, subscription } = await collect(bus, type, { concurrency: 1 });
      const events = Array.from({ length: 5 }, () => testEvent(type));
      // Optional attributes left out travel as left out.
      const { subject: _s, traceparent: _t, ...bare } = events[2] as CloudEvent;
      events[2] = bare;
      await db.transaction((tx) => enqueue(tx, events.slice(0, 3)));
      await db.transaction((tx) => enqueue(tx, events.slice(3)));
      const relay = track(new OutboxRelay({ db, bus, pollMs: 5000 }));
      relay.start();
      relay.nudge();
      await waitUntil("all 5 events arrive", () => received.length >= 5);
      // Long enough for a second poll or a redelivery to show up.
      await sleep(300);
      assert.deepEqual(
        received.map((e) => e.id),
        events.map((e) => e.id),
      );
      assert.deepEqual(received.map(plain), events.map(plain));
      assert.deepEqual(bus.published, events.map((e) => e.id));
      assert.equal(await pending(db), 0);
      const stats = await relay.stats();
      assert.equal(stats.published, 5);
      assert.equal(stats.pending, 0);
      assert.equal(stats.failures, 0);
      await relay.stop();
      await subscription.stop();
    });

    it("keeps rows through failed publishes and retries them until the broker takes them", async () => {
      const db = await dbs.open("retry");
      const bus = new SpyBus(await broker.connect());
      const type = testType("retry");
      const { events: received, subscription } = await collect(bus, type);
      const events = Array.from({ length: 20 }, () => testEvent(type));
      await db.transaction((tx) => enqueue(tx, events));
      bus.failNext = 4;

      // The first attempt by hand: nothing is lost, the failure is written down.
      const slow = track(new OutboxRelay({ db, bus, backoff: { baseMs: 2000, maxMs: 2000 } }));
      assert.equal(await slow.publishDue(), 0);
      const rows = await db.query<{ attempts: number; last_error: string; later: boolean }>(
        "SELECT attempts, last_error, next_attempt_at > now() AS later FROM flotilla_outbox ORDER BY position",
      );
      assert.equal(rows.length, 20);
      for (const row of rows) {
        assert.equal(row.attempts, 1);
        assert.match(row.last_error, /^KIT_ERR_BUS_UNAVAILABLE: test: the broker is down/);
        assert.equal(row.later, true);
      }
      // Not due yet: the backoff holds it.
      assert.equal(await slow.publishDue(), 0);
      assert.equal(bus.calls.length, 1);
      assert.equal((await slow.stats()).failures, 1);

      // Then a relay with short backoffs, from the moment the rows are due.
      await db.query("UPDATE flotilla_outbox SET next_attempt_at = now()");
      // One claim loop: this test counts publish calls, which two loops would split between them.
      const relay = track(new OutboxRelay({ db, bus, pollMs: 10, concurrency: 1, backoff: { baseMs: 20, maxMs: 50 } }));
      relay.start();
      await waitUntil("all 20 events arrive", () => received.length >= 20);
      assert.deepEqual(new Set(received.map((e) => e.id)), new Set(events.map((e) => e.id)));
      assert.equal(bus.calls.length, 5, "4 failures, then one publish of the whole batch");
      await waitUntil("the outbox is empty", async () => (await pending(db)) === 0);
      const stats = await relay.stats();
      assert.equal(stats.failures, 3);
      assert.equal(stats.published, 20);
      assert.match(stats.lastError ?? "", /broker is down/);
      await relay.stop();
      await subscription.stop();
    });

    it("a refused event is retried alone and holds back no other event of its batch", async () => {
      const db = await dbs.open("poison");
      const bus = new SpyBus(await broker.connect());
      const type = testType("poison");
      const events = Array.from({ length: 6 }, () => testEvent(type));
      const poison = events[2] as CloudEvent;
      bus.refuse = (e) => e.id === poison.id;
      await db.transaction((tx) => enqueue(tx, events));
      const relay = track(new OutboxRelay({ db, bus, backoff: { baseMs: 10, maxMs: 20 } }));
      assert.equal(await relay.publishDue(), 5);
      assert.deepEqual(
        bus.published,
        events.filter((e) => e !== poison).map((e) => e.id),
      );
      const [row] = await db.query<{ id: string; attempts: number; last_error: string }>("SELECT id, attempts, last_error FROM flotilla_outbox");
      assert.deepEqual(row, { id: poison.id, attempts: 1, last_error: `KIT_ERR_MESSAGE_TOO_LARGE: test: event ${poison.id} refused` });
      // No terminal state: once the broker takes it, it goes.
      bus.refuse = () => false;
      await waitUntil("the refused event is published", async () => (await relay.publishDue()) === 1);
      assert.equal(await pending(db), 0);
    });

    it("refuses at enqueue an event the bus cannot carry, failing the caller's transaction", async () => {
      const db = await dbs.open("invalid");
      await assert.rejects(
        db.transaction((tx) => enqueue(tx, [testEvent("bad type!")])),
        (e) => e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT",
      );
      const duplicate = testEvent(testType("dup"));
      await assert.rejects(db.transaction((tx) => enqueue(tx, [duplicate, duplicate])), { code: "23505" });
      assert.equal(await pending(db), 0);
    });

    it("stop() lets the batch in flight finish and be cleared", async () => {
      const db = await dbs.open("stop");
      const bus = new SpyBus(await broker.connect());
      bus.delayMs = 300;
      const type = testType("stop");
      await db.transaction((tx) => enqueue(tx, [testEvent(type), testEvent(type)]));
      const relay = track(new OutboxRelay({ db, bus }));
      relay.start();
      await waitUntil("the publish is in flight", () => bus.calls.length === 1);
      await relay.stop();
      assert.equal(bus.published.length, 2);
      assert.equal(await pending(db), 0);
      assert.equal(bus.calls.length, 1);
    });

    it("two relays on one database publish every event exactly once between them", async () => {
      const db = await dbs.open("replicas");
      const other = await dbs.replica(db);
      const busA = new SpyBus(await broker.connect());
      const busB = new SpyBus(await broker.connect());
      // A slow broker makes the relays' claims overlap in time.
      busA.delayMs = 5;
      busB.delayMs = 5;
      const type = testType("replicas");
      const { events: received, subscription } = await collect(busA, type);
      const relayA = track(new OutboxRelay({ db, bus: busA, batchSize: 25, pollMs: 5 }));
      const relayB = track(new OutboxRelay({ db: other, bus: busB, batchSize: 25, pollMs: 5 }));
      relayA.start();
      relayB.start();
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const events = Array.from({ length: 25 }, () => testEvent(type));
        ids.push(...events.map((e) => e.id));
        await (i % 2 === 0 ? db : other).transaction((tx) => enqueue(tx, events));
        (i % 2 === 0 ? relayA : relayB).nudge();
      }
      await waitUntil("all 1000 events arrive", () => new Set(received.map((e) => e.id)).size === ids.length, 20_000).catch(async (error) => {
        const stats = [await relayA.stats(), await relayB.stats()];
        throw new Error(`${error.message}; received ${received.length}, stats ${JSON.stringify(stats)}, published ${busA.published.length}+${busB.published.length}`);
      });
      await Promise.all([relayA.stop(), relayB.stop()]);
      const published = [...busA.published, ...busB.published];
      assert.equal(published.length, ids.length, "no event was published twice");
      assert.deepEqual(new Set(published), new Set(ids));
      assert.ok(busA.published.length > 0 && busB.published.length > 0, `both relays worked: ${busA.published.length} / ${busB.published.length}`);
      assert.equal(await pending(db), 0);
      await subscription.stop();
      await other.close();
    });

    it("publishes `concurrency` batches side by side, every event once", async () => {
      const db = await dbs.open("parallel");
      const spy = new SpyBus(await broker.connect());
      spy.delayMs = 20;
      // Counts the publishes in progress at once.
      let inFlight = 0;
      let most = 0;
      const bus: EventBus = {
        publish: async (events) => {
          most = Math.max(most, ++inFlight);
          try {
            await spy.publish(events);
          } finally {
            inFlight--;
          }
        },
        subscribe: (options, handler) => spy.subscribe(options, handler),
        close: () => spy.close(),
      };
      const type = testType("parallel");
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const events = Array.from({ length: 20 }, () => testEvent(type));
        ids.push(...events.map((e) => e.id));
        await db.transaction((tx) => enqueue(tx, events));
      }
      const relay = track(new OutboxRelay({ db, bus, batchSize: 10, concurrency: 3, pollMs: 5000 }));
      relay.start();
      relay.nudge();
      await waitUntil("the outbox is empty", async () => (await pending(db)) === 0);
      await relay.stop();
      assert.equal(spy.published.length, ids.length, "no event was published twice");
      assert.deepEqual(new Set(spy.published), new Set(ids));
      assert.equal(most, 3, "three batches were in flight at once");
    });
  });
}

// The event without its Uint8Array subclass, so that a Buffer and a Uint8Array compare equal.
function plain(event: CloudEvent) {
  return { ...event, data: [...event.data] };
}

// The backends' suites side by side: most of their time is spent waiting.
describe("outbox relay", { concurrency: true }, () => {
  let release: () => Promise<void>;
  before(async () => {
    release = await warmUpPglite();
  });
  after(async () => {
    await release();
  });
  for (const dbBackend of DB_BACKENDS) for (const busBackend of BUS_BACKENDS) relaySuite(dbBackend, busBackend);
});

describe("outbox relay options", () => {
  it("rejects a lease no longer than the publish timeout, and non-positive sizes", () => {
    const fake = {} as ConstructorParameters<typeof OutboxRelay>[0];
    assert.throws(() => new OutboxRelay({ ...fake, leaseMs: 1000, publishTimeoutMs: 1000 }), { code: "KIT_ERR_CONFIG_INVALID" });
    assert.throws(() => new OutboxRelay({ ...fake, batchSize: 0 }), { code: "KIT_ERR_CONFIG_INVALID", message: /batchSize/ });
    assert.throws(() => new OutboxRelay({ ...fake, concurrency: 0 }), { code: "KIT_ERR_CONFIG_INVALID", message: /concurrency/ });
  });
});
