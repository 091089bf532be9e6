import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { migrate } from "../db/migrate.ts";
import { eventStoreConformance } from "./conformance.ts";
import { EventStore } from "./event-store.ts";
import { eventstoreMigrations } from "./migrations.ts";
import { postgresTestSetup } from "./postgres-test-setup.ts";
import { bytes, isKitError } from "./test-fixtures.ts";

const setup = postgresTestSetup("es");

// Two providers, two pools: racing writers run on separate connections at once.
eventStoreConformance("postgres", setup.makeProvider, { makeReplica: setup.makeProvider });

test("postgres: a writer that passed the version check still loses to the unique index, with the same conflict", async () => {
  const one = await setup.makeProvider();
  const two = await setup.makeProvider();
  try {
    const db = await one.open("unique");
    const other = await two.open("unique");
    await migrate(db, eventstoreMigrations);
    const store = new EventStore({ db });
    // A writer that bypasses the append lock takes version 1 and holds its transaction open.
    let inserted!: () => void;
    const holding = new Promise<void>((resolve) => (inserted = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const intruder = other.transaction(async (tx) => {
      await tx.query("INSERT INTO flotilla_events (stream_id, version, event_id, type, data) VALUES ('s', 1, 'intruder', 't.v1', '\\x00')");
      inserted();
      await released;
    });
    await holding;
    // The check sees an empty stream (the row is uncommitted); the insert then waits on the index.
    const appending = store.append("s", "no_stream", [{ type: "t.v1", data: bytes("mine") }]);
    // Watched before the intruder commits: the append rejects as soon as it does.
    const refused = assert.rejects(appending, (error: unknown) => {
      assert.ok(isKitError("KIT_ERR_WRONG_EXPECTED_VERSION")(error));
      assert.equal((error as { cause?: { code?: string } }).cause?.code, "23505");
      return true;
    });
    await sleep(200);
    release();
    await intruder;
    await refused;
    assert.deepEqual(
      (await store.readStream("s")).map((e) => e.id),
      ["intruder"],
    );
    await db.close();
    await other.close();
  } finally {
    await one.close();
    await two.close();
  }
});

after(setup.dropAll);
