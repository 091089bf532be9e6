import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { CloudEvent, EventBus, Subscription } from "../bus/types.ts";
import type { Database, Queryable } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import {
  BUS_BACKENDS,
  type BusBackend,
  count,
  countingDeliveries,
  DB_BACKENDS,
  type DbBackend,
  type TestBroker,
  type TestDatabases,
  testEvent,
  testType,
  unique,
  waitUntil,
  warmUpPglite,
} from "../outbox/test-fixtures.ts";
import { consume, consumeBatches } from "./consume.ts";
import { listDeadLetters, replayDeadLetters } from "./dead-letters.ts";

const EFFECTS = "CREATE TABLE IF NOT EXISTS effects (event_id text NOT NULL, consumer text NOT NULL, attempt_note text)";

// The handler's effect: a row per application, with no unique key, so that a
// second application would show as a second row.
const applyEffect = (consumer: string) => async (event: CloudEvent, tx: Queryable) => {
  await tx.query("INSERT INTO effects (event_id, consumer) VALUES ($1, $2)", [event.id, consumer]);
};

const effects = (db: Database, consumer: string) => count(db, "SELECT count(*) AS n FROM effects WHERE consumer = $1", [consumer]);

function inboxSuite(dbBackend: DbBackend, busBackend: BusBackend): void {
  describe(`inbox on ${dbBackend.name} + ${busBackend.name}`, { concurrency: 1 }, () => {
    let dbs: TestDatabases;
    let broker: TestBroker;
    // Forgets ids at once, so that one event id can be stored and delivered twice.
    let leaky: TestBroker;
    let bus: EventBus;
    // Stopped in `after` as well, for a test that failed half-way.
    const subscriptions: Subscription[] = [];
    const consumeTracked: typeof consume = async (...args) => {
      const subscription = await consume(...args);
      subscriptions.push(subscription);
      return subscription;
    };

    before(async () => {
      dbs = await dbBackend.create();
      broker = await busBackend.create();
      leaky = await busBackend.create({ duplicateWindowMs: 100 });
      bus = await broker.connect();
    });
    after(async () => {
      await Promise.all(subscriptions.map((s) => s.stop()));
      await Promise.all([broker.close(), leaky.close()]);
      await dbs.close();
    });

    const openDb = async (tag: string) => {
      const db = await dbs.open(tag);
      await db.exec(EFFECTS);
      return db;
    };

    it("applies an event delivered twice once, even when both copies are handled at the same time", async () => {
      const db = await openDb("dup");
      const { bus: leakyBus, deliveries } = countingDeliveries(await leaky.connect());
      const type = testType("dup");
      const consumer = `c-${unique()}`;
      let calls = 0;
      const subscription = await consumeTracked(db, leakyBus, { consumer, type, concurrency: 4, backoffMs: [10] }, async (event, tx) => {
        calls++;
        await applyEffect(consumer)(event, tx);
        // The second copy arrives while the first is still in its transaction.
        await sleep(500);
      });
      const event = testEvent(type);
      const later = testEvent(type);
      await leakyBus.publish([event]);
      // Past the broker's duplicate window, so that it stores the copy.
      await sleep(200);
      await leakyBus.publish([event, later]);
      await waitUntil("both copies and the later event are delivered", () => deliveries.get(event.id) === 2 && deliveries.get(later.id) === 1);
      await waitUntil("both events are applied", async () => (await effects(db, consumer)) === 2);
      await sleep(300);
      assert.equal(await count(db, "SELECT count(*) AS n FROM effects WHERE event_id = $1", [event.id]), 1);
      assert.equal(calls, 2, "the handler never ran for the copy");
      assert.equal(deliveries.get(event.id), 2, "the copy was acknowledged, not redelivered");
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox WHERE consumer = $1", [consumer]), 2);
      await subscription.stop();
    });

    it("rolls back a failed attempt's effects and applies the event when a redelivery succeeds", async () => {
      const db = await openDb("retry");
      const type = testType("retry");
      const consumer = `c-${unique()}`;
      const attempts: number[] = [];
      const subscription = await consumeTracked(db, bus, { consumer, type, maxAttempts: 5, backoffMs: [10] }, async (event, tx) => {
        await applyEffect(consumer)(event, tx);
        attempts.push(attempts.length + 1);
        if (attempts.length < 3) throw new Error(`attempt ${attempts.length} fails`);
      });
      const event = testEvent(type);
      await bus.publish([event]);
      await waitUntil("the third attempt succeeds", () => attempts.length === 3);
      await waitUntil("the effect is committed", async () => (await effects(db, consumer)) === 1);
      await sleep(200);
      assert.equal(attempts.length, 3);
      assert.equal(await effects(db, consumer), 1);
      assert.deepEqual(await listDeadLetters(db, consumer), []);
      await subscription.stop();
    });

    it("after maxAttempts stores a dead letter with the error and acknowledges; a replay then applies it", async () => {
      const db = await openDb("dead");
      const type = testType("dead");
      const consumer = `c-${unique()}`;
      const other = `c-${unique()}`;
      let broken = true;
      let calls = 0;
      const handler = async (event: CloudEvent, tx: Queryable) => {
        calls++;
        await applyEffect(consumer)(event, tx);
        if (broken) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `cannot handle ${event.id}`);
      };
      const options = { consumer, type, maxAttempts: 3, backoffMs: [10], replayPollMs: 50 };
      let subscription = await consumeTracked(db, bus, options, handler);
      // A second consumer of the same events, which has no trouble.
      const otherSubscription = await consumeTracked(db, bus, { consumer: other, type }, applyEffect(other));
      const event = testEvent(type);
      await bus.publish([event]);

      await waitUntil("the event is dead-lettered", async () => (await listDeadLetters(db, consumer)).length === 1);
      const [dead] = await listDeadLetters(db, consumer);
      assert.ok(dead);
      assert.equal(dead.consumer, consumer);
      assert.equal(dead.error, `KIT_ERR_INVALID_ARGUMENT: cannot handle ${event.id}`);
      assert.equal(dead.attempts, 3);
      assert.deepEqual({ ...dead.event, data: [...dead.event.data] }, { ...event, data: [...event.data] });
      assert.ok(dead.failedAt instanceof Date);
      assert.equal(dead.replayRequestedAt, undefined);
      // Acknowledged: no fourth delivery.
      await sleep(300);
      assert.equal(calls, 3);
      assert.equal(await effects(db, consumer), 0);
      assert.equal(await effects(db, other), 1);
      assert.equal((await listDeadLetters(db)).length, 1);

      // The request outlives the consumer: asked while it is down, done when it is back.
      await subscription.stop();
      broken = false;
      assert.deepEqual(await replayDeadLetters(db, [dead.id, "999999"]), [dead.id]);
      assert.ok((await listDeadLetters(db, consumer))[0]?.replayRequestedAt instanceof Date);
      subscription = await consumeTracked(db, bus, options, handler);
      await waitUntil("the replay is applied", async () => (await effects(db, consumer)) === 1);
      assert.deepEqual(await listDeadLetters(db, consumer), []);
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox WHERE consumer = $1 AND event_id = $2", [consumer, event.id]), 1);
      // Only the consumer that failed saw it again.
      await sleep(200);
      assert.equal(await effects(db, other), 1);
      assert.equal(await effects(db, consumer), 1);
      await Promise.all([subscription.stop(), otherSubscription.stop()]);
    });

    it("a replay that fails again is a dead letter again, with the new error", async () => {
      const db = await openDb("replay-fails");
      const type = testType("replay_fails");
      const consumer = `c-${unique()}`;
      let message = "first failure";
      const subscription = await consumeTracked(db, bus, { consumer, type, maxAttempts: 1, replayPollMs: 50 }, async (event, tx) => {
        await applyEffect(consumer)(event, tx);
        throw new Error(message);
      });
      await bus.publish([testEvent(type)]);
      await waitUntil("the event is dead-lettered", async () => (await listDeadLetters(db, consumer)).length === 1);
      const [dead] = await listDeadLetters(db, consumer);
      assert.equal(dead?.error, "first failure");
      assert.equal(dead?.attempts, 1);
      message = "second failure";
      await replayDeadLetters(db, [dead?.id as string]);
      await waitUntil("the replay fails", async () => (await listDeadLetters(db, consumer))[0]?.error === "second failure");
      const [again] = await listDeadLetters(db, consumer);
      assert.equal(again?.id, dead?.id);
      assert.equal(again?.attempts, 2);
      assert.equal(again?.replayRequestedAt, undefined);
      assert.equal(await effects(db, consumer), 0);
      await subscription.stop();
    });

    it("consumeBatches: events applied together once each; a poison event alone is retried and dead-lettered, the others applied", async () => {
      const db = await openDb("batches");
      const type = testType("batches");
      const consumer = `c-${unique()}`;
      const events = Array.from({ length: 20 }, () => testEvent(type));
      const poison = events[7] as CloudEvent;
      const sizes: number[] = [];
      const subscription = await consumeBatches(db, bus, { consumer, type, maxAttempts: 2, backoffMs: [10], concurrency: 64 }, async (batch, tx) => {
        sizes.push(batch.length);
        for (const event of batch) {
          if (event.id === poison.id) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "cannot handle this one");
          await applyEffect(consumer)(event, tx);
        }
      });
      subscriptions.push(subscription);
      await bus.publish(events);
      await waitUntil("the others are applied and the poison event is a dead letter", async () => (await effects(db, consumer)) === 19 && (await listDeadLetters(db, consumer)).length === 1);
      await sleep(200);
      assert.equal(await effects(db, consumer), 19, "each applied once");
      assert.equal(await count(db, "SELECT count(*) AS n FROM effects WHERE event_id = $1", [poison.id]), 0);
      const [dead] = await listDeadLetters(db, consumer);
      assert.equal(dead?.event.id, poison.id);
      assert.ok(sizes.some((n) => n > 1), `some calls held several events: ${sizes.join(",")}`);
      await subscription.stop();
    });

    it("never dead-letters while the database is unavailable", async () => {
      const db = await openDb("db-down");
      const type = testType("db_down");
      const consumer = `c-${unique()}`;
      let calls = 0;
      const subscription = await consumeTracked(db, bus, { consumer, type, maxAttempts: 2, backoffMs: [10] }, async (event, tx) => {
        calls++;
        if (calls <= 4) throw kitErrors.create("KIT_ERR_DB_UNAVAILABLE", "test: the database is restarting");
        await applyEffect(consumer)(event, tx);
      });
      await bus.publish([testEvent(type)]);
      await waitUntil("the event is applied", async () => (await effects(db, consumer)) === 1);
      assert.equal(calls, 5);
      assert.deepEqual(await listDeadLetters(db, consumer), []);
      await subscription.stop();
    });
  });
}

describe("inbox", { concurrency: true }, () => {
  let release: () => Promise<void>;
  before(async () => {
    release = await warmUpPglite();
  });
  after(async () => {
    await release();
  });
  for (const dbBackend of DB_BACKENDS) for (const busBackend of BUS_BACKENDS) inboxSuite(dbBackend, busBackend);
});

describe("inbox options", () => {
  it("rejects maxAttempts below 1", async () => {
    const fake = {} as Database;
    await assert.rejects(consume(fake, {} as EventBus, { consumer: "c", type: "t.v1", maxAttempts: 0 }, async () => {}), {
      code: "KIT_ERR_CONFIG_INVALID",
      message: /maxAttempts/,
    });
  });
  it("rejects a batchSize or a number of transactions below 1", async () => {
    const fake = {} as Database;
    for (const bad of [{ batchSize: 0 }, { transactions: 0 }, { batchSize: 1.5 }]) {
      await assert.rejects(consume(fake, {} as EventBus, { consumer: "c", type: "t.v1", ...bad }, async () => {}), {
        code: "KIT_ERR_CONFIG_INVALID",
        message: new RegExp(Object.keys(bad)[0] as string),
      });
    }
  });
  it("rejects a dead letter id that is not a number", async () => {
    await assert.rejects(replayDeadLetters({} as Database, ["1; DROP TABLE x"]), { code: "KIT_ERR_INVALID_ARGUMENT" });
  });
});
