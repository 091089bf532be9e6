import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { databaseConformance } from "./conformance.ts";
import { PgliteProvider } from "./pglite.ts";
import { quoteIdent } from "./sql-names.ts";

databaseConformance("pglite", async () => new PgliteProvider(), {
  // One instance for every service: reaching across is only a qualified name away,
  // and the service's role is what refuses it.
  intrude: async (intruder, owner, table) => {
    const target = `${quoteIdent(owner.service)}.${table}`;
    await assert.rejects(intruder.query(`SELECT * FROM ${target}`), { code: "42501" });
    await assert.rejects(intruder.exec(`DROP TABLE ${target}`), { code: "42501" });
    await assert.rejects(intruder.transaction((tx) => tx.query(`SELECT * FROM ${target}`)), { code: "42501" });
    await assert.rejects(intruder.exec(`CREATE TABLE public.sneaky (n int)`), { code: "42501" });
  },
});

test("pglite keeps services' data in a data directory across restarts", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "flotilla-pglite-"));
  try {
    const first = new PgliteProvider({ dataDir });
    const db = await first.open("keep");
    await db.exec("CREATE TABLE notes (body text)");
    await db.query("INSERT INTO notes VALUES ($1)", ["kept"]);
    await first.close();
    await assert.rejects(db.query("SELECT 1"), { code: "KIT_ERR_DB_UNAVAILABLE" });

    const second = new PgliteProvider({ dataDir });
    const again = await second.open("keep");
    assert.deepEqual(await again.query("SELECT body FROM notes"), [{ body: "kept" }]);
    await second.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
