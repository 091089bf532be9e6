import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import type { CloudEvent } from "../bus/types.ts";
import type { Queryable } from "../db/types.ts";
import { count, DB_BACKENDS, type DbBackend, type TestDatabases, testEvent, testType } from "../outbox/test-fixtures.ts";
import { listDeadLetters, recordDeadLetter, replayDeadLetters } from "./dead-letters.ts";
import { replayRequested } from "./replay.ts";

const log = pino({ level: "silent" });

function replaySuite(backend: DbBackend): void {
  describe(`dead-letter replay on ${backend.name}`, () => {
    let dbs: TestDatabases;
    before(async () => {
      dbs = await backend.create();
    });
    after(async () => {
      await dbs.close();
    });

    it("replicas replaying together apply each requested dead letter once, and leave the others", async () => {
      const db = await dbs.open("replay");
      const replica = await dbs.replica(db);
      await db.exec("CREATE TABLE effects (event_id text NOT NULL)");
      const type = testType("replay");
      const events = Array.from({ length: 30 }, () => testEvent(type));
      for (const event of events) await recordDeadLetter(db, "c", event, new Error("it broke"), 10);
      // Another consumer's dead letter with the same event id is not this consumer's to replay.
      await recordDeadLetter(db, "other", events[0] as CloudEvent, new Error("also broke"), 10);
      const dead = await listDeadLetters(db, "c");
      assert.equal(dead.length, 30);
      const requested = dead.slice(0, 25).map((d) => d.id);
      const otherId = (await listDeadLetters(db, "other"))[0]?.id as string;
      assert.deepEqual(await replayDeadLetters(db, [...requested, otherId]), [...requested, otherId]);

      const apply = async (event: CloudEvent, tx: Queryable) => {
        await tx.query("INSERT INTO effects (event_id) VALUES ($1)", [event.id]);
      };
      const [a, b] = await Promise.all([replayRequested(db, "c", apply, log), replayRequested(replica, "c", apply, log)]);
      assert.equal(a + b, 25);
      assert.equal(await count(db, "SELECT count(*) AS n FROM effects"), 25);
      assert.equal(await count(db, "SELECT count(DISTINCT event_id) AS n FROM effects"), 25);
      const left = await listDeadLetters(db);
      assert.deepEqual(
        left.map((d) => [d.consumer, d.event.id, d.replayRequestedAt === undefined]),
        [
          ...events.slice(25).map((e) => ["c", e.id, true]),
          ["other", events[0]?.id, false],
        ],
      );
      await replica.close();
    });

    it("a dead letter whose event was applied meanwhile is removed without running the handler again", async () => {
      const db = await dbs.open("applied");
      const event = testEvent(testType("applied"));
      await recordDeadLetter(db, "c", event, "lost ack", 10);
      await db.query("INSERT INTO flotilla_inbox (consumer, event_id) VALUES ('c', $1)", [event.id]);
      await replayDeadLetters(db, [(await listDeadLetters(db))[0]?.id as string]);
      let calls = 0;
      assert.equal(
        await replayRequested(db, "c", async () => void calls++, log),
        1,
      );
      assert.equal(calls, 0);
      assert.deepEqual(await listDeadLetters(db), []);
    });

    it("recording a dead letter again refreshes it instead of adding another", async () => {
      const db = await dbs.open("refresh");
      const event = testEvent(testType("refresh"));
      await recordDeadLetter(db, "c", event, new Error("first"), 10);
      await recordDeadLetter(db, "c", event, new Error("second"), 12);
      const dead = await listDeadLetters(db, "c");
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.error, "second");
      assert.equal(dead[0]?.attempts, 12);
    });
  });
}

for (const backend of DB_BACKENDS) replaySuite(backend);
