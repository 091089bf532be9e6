import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { migrate } from "../db/migrate.ts";
import type { Database, DatabaseProvider, Queryable } from "../db/types.ts";
import { EventStore } from "../eventstore/event-store.ts";
import { type Databases, isKitError, jsonData, jsonEvent, testDatabases } from "../eventstore/test-fixtures.ts";
import type { RecordedEvent } from "../eventstore/types.ts";
import { defineProjection, type Projection } from "./define-projection.ts";
import { projectionMigrations } from "./migrations.ts";
import { ProjectionRunner } from "./projection-runner.ts";

export interface ProjectionConformanceOptions {
  /** Another provider on the same backend, for two runners as two replicas would run them. */
  makeReplica?: () => Promise<DatabaseProvider>;
}

const CITIES = ["Lyon", "Oslo", "Porto", "Kyoto", "Lima"] as const;
const READ_MODEL = `
CREATE TABLE city_events (event_id text PRIMARY KEY, city text NOT NULL, title text NOT NULL);
CREATE TABLE city_counts (city text PRIMARY KEY, n int NOT NULL);`;

interface Published {
  city: string;
  title: string;
}

/**
 * The "events by city" read model: a row per event (its primary key makes
 * a second application of an event fail loudly) and a count per city.
 */
function eventsByCity(fault?: (event: RecordedEvent) => boolean): Projection {
  return defineProjection({
    name: "events-by-city",
    types: ["catalog.event_published.v1"],
    async handle(event, tx) {
      const { city, title } = jsonData<Published>(event.data);
      await tx.query("INSERT INTO city_events VALUES ($1, $2, $3)", [event.id, city, title]);
      if (fault?.(event)) throw new Error(`cannot project ${event.id}`);
      await tx.query("INSERT INTO city_counts VALUES ($1, 1) ON CONFLICT (city) DO UPDATE SET n = city_counts.n + 1", [city]);
    },
    async reset(tx) {
      await tx.exec("DELETE FROM city_events; DELETE FROM city_counts");
    },
  });
}

async function readModel(db: Queryable) {
  return {
    events: await db.query("SELECT event_id, city, title FROM city_events ORDER BY event_id"),
    counts: await db.query("SELECT city, n FROM city_counts ORDER BY city"),
  };
}

let published = 0;
function publishedEvent(i: number) {
  const id = `ev-${String(++published).padStart(5, "0")}`;
  return jsonEvent("catalog.event_published.v1", { city: CITIES[i % CITIES.length], title: `show ${i}` }, { id });
}

async function lastPosition(store: EventStore): Promise<number> {
  let from = 1;
  let last = 0;
  for (;;) {
    const page = await store.readAll({ fromPosition: from, limit: 1000 });
    if (page.length === 0) return last;
    last = page.at(-1)!.globalPosition;
    from = last + 1;
  }
}

/** The behaviour of projections on every database backend. */
export function projectionConformance(name: string, makeProvider: () => Promise<DatabaseProvider>, options: ProjectionConformanceOptions = {}): void {
  describe(`${name} projection conformance`, () => {
    let provider: DatabaseProvider;
    let replicaProvider: DatabaseProvider | undefined;
    let dbs: Databases;

    before(async () => {
      provider = await makeProvider();
      replicaProvider = await options.makeReplica?.();
      dbs = testDatabases("pr", provider, replicaProvider);
    });
    after(async () => {
      await dbs.close();
      await replicaProvider?.close();
      await provider.close();
    });

    // The store and the read model share the service's database, as in a service.
    async function open(tag: string): Promise<{ db: Database; replica: Database; store: EventStore }> {
      const opened = await dbs.open(tag);
      await migrate(opened.db, projectionMigrations);
      await opened.db.exec(READ_MODEL);
      return { ...opened, store: new EventStore({ db: opened.db }) };
    }

    it("a read model built while appending equals the one rebuilt from zero", async () => {
      const { db, store } = await open("rebuild");
      const runner = new ProjectionRunner({ db, store, projections: [eventsByCity()], batchSize: 7, pollIntervalMs: 20 });
      runner.start();
      try {
        for (let round = 0; round < 6; round++) {
          await Promise.all(
            Array.from({ length: 4 }, (_, s) =>
              store.append(`venue-${s}`, "any", [publishedEvent(round * 4 + s), jsonEvent("catalog.event_renamed.v1", { round })]),
            ),
          );
          if (round % 2 === 0) await runner.runOnce();
        }
      } finally {
        await runner.stop();
      }
      await runner.runOnce();
      const incremental = await readModel(db);
      assert.equal(incremental.events.length, 24);
      assert.deepEqual(
        incremental.counts,
        CITIES.map((city, i) => ({ city, n: i < 4 ? 5 : 4 })).sort((a, b) => a.city.localeCompare(b.city)),
      );
      assert.equal(await runner.position("events-by-city"), await lastPosition(store));

      assert.equal(await runner.rebuild("events-by-city"), 48, "every event replayed, renames included");
      assert.deepEqual(await readModel(db), incremental);
      assert.equal(await runner.position("events-by-city"), await lastPosition(store));
    });

    it("a batch that fails midway leaves nothing behind, and the checkpoint stays", async () => {
      const { db, store } = await open("crash");
      let failOn: string | undefined;
      const runner = new ProjectionRunner({ db, store, projections: [eventsByCity((e) => e.id === failOn)], batchSize: 5 });
      const events = Array.from({ length: 12 }, (_, i) => publishedEvent(i));
      const { globalPositions } = await store.append("venue", "no_stream", events);
      failOn = events[7]!.id; // the third event of the second batch
      await assert.rejects(runner.runOnce(), new RegExp(`cannot project ${failOn}`));
      const partial = await readModel(db);
      assert.deepEqual(
        partial.events.map((r) => r["event_id"]),
        events.slice(0, 5).map((e) => e.id),
        "only the first batch",
      );
      assert.equal(await runner.position("events-by-city"), globalPositions[4]);
      // Fixed and run again: each event is applied exactly once.
      failOn = undefined;
      assert.deepEqual(await runner.runOnce(), { "events-by-city": 7 });
      const model = await readModel(db);
      assert.equal(model.events.length, 12);
      assert.equal(
        model.counts.reduce((n, r) => n + (r["n"] as number), 0),
        12,
      );
      assert.equal(await runner.position("events-by-city"), globalPositions[11]);
    });

    it("two runners on one projection apply each event once", async () => {
      const { db, replica, store } = await open("replicas");
      for (let i = 0; i < 10; i++) await store.append(`venue-${i}`, "no_stream", Array.from({ length: 6 }, (_, j) => publishedEvent(i * 6 + j)));
      const runners = [db, replica].map((d) => new ProjectionRunner({ db: d, store: new EventStore({ db: d }), projections: [eventsByCity()], batchSize: 4 }));
      // A double application would hit city_events' primary key and reject.
      const counts = await Promise.all(runners.map((r) => r.runOnce()));
      assert.equal(counts[0]!["events-by-city"]! + counts[1]!["events-by-city"]!, 60);
      const model = await readModel(db);
      assert.equal(model.events.length, 60);
      assert.equal(
        model.counts.reduce((n, r) => n + (r["n"] as number), 0),
        60,
      );
    });

    it("start() follows new appends until stop()", async () => {
      const { db, store } = await open("follow");
      // A long poll: only the append notification can make it this quick.
      const runner = new ProjectionRunner({ db, store, projections: [eventsByCity()], pollIntervalMs: 60_000 });
      runner.start();
      try {
        await store.append("venue", "no_stream", [publishedEvent(0)]);
        const deadline = Date.now() + 10_000;
        while ((await readModel(db)).events.length < 1 && Date.now() < deadline) await sleep(10);
        assert.equal((await readModel(db)).events.length, 1);
      } finally {
        await runner.stop();
      }
      await store.append("venue", 1, [publishedEvent(1)]);
      await sleep(50);
      assert.equal((await readModel(db)).events.length, 1, "a stopped runner applies nothing");
    });

    it("refuses unknown, duplicate and unresettable projections", async () => {
      const { db, store } = await open("config");
      const plain = defineProjection({ name: "plain", handle: async () => {} });
      const runner = new ProjectionRunner({ db, store, projections: [plain] });
      await assert.rejects(runner.rebuild("missing"), isKitError("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(runner.rebuild("plain"), isKitError("KIT_ERR_CONFIG_INVALID"));
      assert.throws(() => new ProjectionRunner({ db, store, projections: [plain, plain] }), isKitError("KIT_ERR_CONFIG_INVALID"));
      assert.throws(() => defineProjection({ name: "Bad Name", handle: async () => {} }), isKitError("KIT_ERR_CONFIG_INVALID"));
      assert.equal(await runner.position("plain"), 0);
    });
  });
}
