import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { count, DB_BACKENDS, type DbBackend, type TestDatabases } from "../outbox/test-fixtures.ts";
import { INBOX_RETENTION_MS, pruneInbox } from "./prune.ts";

function pruneSuite(backend: DbBackend): void {
  describe(`pruneInbox on ${backend.name}`, () => {
    let dbs: TestDatabases;
    before(async () => {
      dbs = await backend.create();
    });
    after(async () => {
      await dbs.close();
    });

    it("deletes rows past the retention, in batches, and keeps the rest", async () => {
      const db = await dbs.open("prune");
      // More old rows than one batch deletes.
      await db.query(
        "INSERT INTO flotilla_inbox (consumer, event_id, processed_at) SELECT 'a', 'old-' || n, now() - interval '8 days' FROM generate_series(1, 10005) AS n",
      );
      await db.query("INSERT INTO flotilla_inbox (consumer, event_id, processed_at) VALUES ('a', 'recent', now() - interval '6 days'), ('b', 'new', now())");
      assert.equal(INBOX_RETENTION_MS, 7 * 24 * 3600 * 1000);
      assert.equal(await pruneInbox(db), 10005);
      assert.deepEqual(await db.query("SELECT consumer, event_id FROM flotilla_inbox ORDER BY event_id"), [
        { consumer: "b", event_id: "new" },
        { consumer: "a", event_id: "recent" },
      ]);
      assert.equal(await pruneInbox(db, new Date(Date.now() - 60_000)), 1);
      assert.equal(await count(db, "SELECT count(*) AS n FROM flotilla_inbox"), 1);
      assert.equal(await pruneInbox(db, new Date(Date.now() - 60_000)), 0);
    });
  });
}

for (const backend of DB_BACKENDS) pruneSuite(backend);
