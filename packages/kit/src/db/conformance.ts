import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FlotillaError } from "../errors/index.ts";
import { migrate } from "./migrate.ts";
import { quoteIdent } from "./sql-names.ts";
import type { Database, DatabaseProvider, Migration } from "./types.ts";

export interface DatabaseConformanceOptions {
  /**
   * Another provider on the same backend, as a second replica of a service
   * has one. Without it, a second open() of the same provider stands in.
   */
  makeReplica?: () => Promise<DatabaseProvider>;
  /**
   * Tries to reach `owner`'s table as `intruder` by the backend's own means
   * (a schema-qualified name, connecting to the other database) and asserts
   * that it fails.
   */
  intrude?: (intruder: Database, owner: Database, table: string) => Promise<void>;
}

const steps: readonly Migration[] = [
  { id: "0001_create_steps", sql: "CREATE TABLE steps (seq serial PRIMARY KEY, name text NOT NULL)" },
  { id: "0002_first", sql: "INSERT INTO steps (name) VALUES ('first')" },
  { id: "0003_second_third", sql: "INSERT INTO steps (name) VALUES ('second'); INSERT INTO steps (name) VALUES ('third')" },
];
const stepIds = steps.map((m) => m.id);

function isKitError(code: string) {
  return (error: unknown) => error instanceof FlotillaError && error.code === code;
}

async function names(db: Database, sql: string): Promise<string[]> {
  return (await db.query<{ name: string }>(sql)).map((r) => r.name);
}

/**
 * The one behaviour every DatabaseProvider must have, run by each
 * implementation's test file:
 *
 *   databaseConformance("pglite", async () => new PgliteProvider());
 */
export function databaseConformance(name: string, makeProvider: () => Promise<DatabaseProvider>, options: DatabaseConformanceOptions = {}): void {
  describe(`${name} database conformance`, () => {
    let provider: DatabaseProvider;
    let counter = 0;
    // Unique within the run; each test gets fresh services.
    const open = (tag: string) => provider.open(`t${++counter}-${tag}`);

    before(async () => {
      provider = await makeProvider();
    });
    after(async () => {
      await provider.close();
    });

    it("binds $n parameters and returns plain, typed rows", async () => {
      const db = await open("types");
      await db.exec(
        "CREATE TABLE typed (id int4 PRIMARY KEY, big int8, name text, ok boolean, at timestamptz, doc jsonb, price numeric(10,2), note text)",
      );
      const at = new Date("2024-05-01T10:00:00.000Z");
      const inserted = await db.query("INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [
        1,
        "9007199254740993",
        "zoë",
        true,
        at,
        { tags: ["a", "b"], n: 2 },
        "12.50",
        null,
      ]);
      assert.deepEqual(inserted, []);
      const rows = await db.query<{ id: number; big: string; at: Date }>("SELECT * FROM typed WHERE id = $1", [1]);
      assert.deepEqual(rows, [
        // int8 and numeric as strings: no silent loss of precision.
        { id: 1, big: "9007199254740993", name: "zoë", ok: true, at, doc: { tags: ["a", "b"], n: 2 }, price: "12.50", note: null },
      ]);
      assert.equal(Object.getPrototypeOf(rows), Array.prototype);
      assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
      assert.ok(rows[0]?.at instanceof Date);
      assert.deepEqual(await db.query("SELECT id FROM typed WHERE id = $1", [2]), []);
      // json (not only jsonb) comes back parsed: aggregates such as json_agg return it.
      assert.deepEqual(await db.query("SELECT json_agg(name) AS names FROM typed"), [{ names: ["zoë"] }]);
      await db.close();
    });

    it("exec runs several statements; query runs exactly one", async () => {
      const db = await open("exec");
      await db.exec("CREATE TABLE e (n int); INSERT INTO e VALUES (1); INSERT INTO e VALUES (2);");
      assert.deepEqual(await db.query("SELECT sum(n)::int AS total FROM e"), [{ total: 3 }]);
      await assert.rejects(db.query("SELECT 1; SELECT 2"));
      await db.close();
    });

    it("SQL errors keep their SQLSTATE code", async () => {
      const db = await open("sqlstate");
      await db.exec("CREATE TABLE u (id int PRIMARY KEY)");
      await db.query("INSERT INTO u VALUES ($1)", [1]);
      await assert.rejects(db.query("INSERT INTO u VALUES ($1)", [1]), { code: "23505" });
      await assert.rejects(db.query("SELECT * FROM no_such_table"), { code: "42P01" });
      await db.close();
    });

    it("a transaction commits when its callback resolves", async () => {
      const db = await open("commit");
      await db.exec("CREATE TABLE t (n int)");
      const result = await db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ($1)", [1]);
        await tx.exec("INSERT INTO t VALUES (2)");
        // Sees its own uncommitted writes.
        return tx.query<{ c: number }>("SELECT count(*)::int AS c FROM t");
      });
      assert.deepEqual(result, [{ c: 2 }]);
      assert.deepEqual(await db.query("SELECT n FROM t ORDER BY n"), [{ n: 1 }, { n: 2 }]);
      await db.close();
    });

    it("a transaction rolls back when its callback throws, and the error propagates", async () => {
      const db = await open("rollback");
      await db.exec("CREATE TABLE t (n int)");
      const boom = new Error("boom");
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO t VALUES ($1)", [1]);
          throw boom;
        }),
        (error) => error === boom,
      );
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO t VALUES ($1)", [2]);
          await tx.query("INSERT INTO missing VALUES ($1)", [3]);
        }),
        { code: "42P01" },
      );
      assert.deepEqual(await db.query("SELECT n FROM t"), []);
      // The handle still works after a rollback.
      await db.query("INSERT INTO t VALUES ($1)", [4]);
      assert.deepEqual(await db.query("SELECT n FROM t"), [{ n: 4 }]);
      await db.close();
    });

    it("refuses the database handle inside its transaction, and the tx handle after it", async () => {
      const db = await open("guard");
      await db.exec("CREATE TABLE t (n int)");
      let leaked: Parameters<Parameters<Database["transaction"]>[0]>[0] | undefined;
      await assert.rejects(
        db.transaction(async (tx) => {
          leaked = tx;
          await tx.query("INSERT INTO t VALUES (1)");
          // On a single connection this would wait for itself forever.
          await db.query("SELECT 1");
        }),
        isKitError("KIT_ERR_INTERNAL"),
      );
      assert.deepEqual(await db.query("SELECT n FROM t"), []);
      assert.ok(leaked);
      await assert.rejects(leaked.query("SELECT 1"), isKitError("KIT_ERR_INTERNAL"));
      await db.close();
    });

    it("keeps two services apart: same table names, separate rows, no reaching across", async () => {
      const a = await open("iso-a");
      const b = await open("iso-b");
      for (const db of [a, b]) await db.exec("CREATE TABLE items (v text)");
      await a.query("INSERT INTO items VALUES ($1), ($2)", ["a1", "a2"]);
      await b.query("INSERT INTO items VALUES ($1)", ["b1"]);
      assert.deepEqual(await a.query("SELECT v FROM items ORDER BY v"), [{ v: "a1" }, { v: "a2" }]);
      assert.deepEqual(await b.query("SELECT v FROM items ORDER BY v"), [{ v: "b1" }]);
      await assert.rejects(b.query(`SELECT * FROM ${quoteIdent(a.service)}.items`));
      await assert.rejects(b.exec(`INSERT INTO ${quoteIdent(a.service)}.items VALUES ('x')`));
      await options.intrude?.(b, a, "items");
      assert.deepEqual(await a.query("SELECT v FROM items ORDER BY v"), [{ v: "a1" }, { v: "a2" }]);
      await a.close();
      await b.close();
    });

    it("interleaved calls of two services land in the right one", async () => {
      const a = await open("mix-a");
      const b = await open("mix-b");
      for (const db of [a, b]) await db.exec("CREATE TABLE hits (who text NOT NULL)");
      const slowTx = (db: Database, who: string) =>
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO hits VALUES ($1)", [who]);
          await sleep(5);
          await tx.query("INSERT INTO hits VALUES ($1)", [who]);
        });
      await Promise.all([
        slowTx(a, "a"),
        ...Array.from({ length: 50 }, () => [a.query("INSERT INTO hits VALUES ($1)", ["a"]), b.query("INSERT INTO hits VALUES ($1)", ["b"])]).flat(),
        slowTx(b, "b"),
        a.exec("INSERT INTO hits VALUES ('a')"),
      ]);
      const count = "SELECT who, count(*)::int AS n FROM hits GROUP BY who ORDER BY who";
      assert.deepEqual(await a.query(count), [{ who: "a", n: 53 }]);
      assert.deepEqual(await b.query(count), [{ who: "b", n: 52 }]);
      await a.close();
      await b.close();
    });

    it("migrate applies in order, records each, and is idempotent", async () => {
      const db = await open("mig");
      assert.deepEqual(await migrate(db, steps), { applied: stepIds });
      assert.deepEqual(await names(db, "SELECT name FROM steps ORDER BY seq"), ["first", "second", "third"]);
      const recorded = await db.query<{ id: string; checksum: string; applied_at: Date }>(
        "SELECT id, checksum, applied_at FROM flotilla_migrations ORDER BY id",
      );
      assert.deepEqual(
        recorded.map((r) => [r.id, r.checksum]),
        steps.map((m) => [m.id, createHash("sha256").update(m.sql).digest("hex")]),
      );
      assert.ok(recorded.every((r) => r.applied_at instanceof Date));

      assert.deepEqual(await migrate(db, steps), { applied: [] });
      const more = [...steps, { id: "0004_fourth", sql: "INSERT INTO steps (name) VALUES ('fourth')" }];
      assert.deepEqual(await migrate(db, more), { applied: ["0004_fourth"] });
      assert.deepEqual(await names(db, "SELECT name FROM steps ORDER BY seq"), ["first", "second", "third", "fourth"]);
      await db.close();
    });

    it("migrate from two replicas at once applies each migration once", async () => {
      const service = `t${++counter}-replicas`;
      const other = options.makeReplica ? await options.makeReplica() : provider;
      try {
        const [one, two] = await Promise.all([provider.open(service), other.open(service)]);
        const [r1, r2] = await Promise.all([migrate(one, steps), migrate(two, steps)]);
        assert.deepEqual([...r1.applied, ...r2.applied].sort(), stepIds);
        assert.deepEqual(await names(one, "SELECT name FROM steps ORDER BY seq"), ["first", "second", "third"]);
        assert.deepEqual(await two.query("SELECT count(*)::int AS n FROM flotilla_migrations"), [{ n: 3 }]);
        await one.close();
        await two.close();
      } finally {
        if (other !== provider) await other.close();
      }
    });

    it("a migration changed after it was applied stops migrate before anything runs", async () => {
      const db = await open("changed");
      await migrate(db, steps);
      const edited = [
        steps[0]!,
        { id: "0002_first", sql: "INSERT INTO steps (name) VALUES ('FIRST')" },
        steps[2]!,
        { id: "0004_fourth", sql: "INSERT INTO steps (name) VALUES ('fourth')" },
      ];
      await assert.rejects(migrate(db, edited), (error) => isKitError("KIT_ERR_MIGRATION_FAILED")(error) && /0002_first/.test((error as Error).message));
      assert.deepEqual(await names(db, "SELECT name FROM steps ORDER BY seq"), ["first", "second", "third"]);
      assert.deepEqual(await db.query("SELECT id FROM flotilla_migrations WHERE id = $1", ["0004_fourth"]), []);
      await db.close();
    });

    it("a failing migration is rolled back whole, named, and retried on the next start", async () => {
      const db = await open("failing");
      const broken = [
        { id: "0001_create", sql: "CREATE TABLE t (n int)" },
        { id: "0002_fill", sql: "INSERT INTO t VALUES (1); INSERT INTO missing VALUES (2)" },
      ];
      await assert.rejects(migrate(db, broken), (error) => isKitError("KIT_ERR_MIGRATION_FAILED")(error) && /0002_fill/.test((error as Error).message));
      assert.deepEqual(await db.query("SELECT n FROM t"), []);
      assert.deepEqual(await db.query("SELECT id FROM flotilla_migrations"), [{ id: "0001_create" }]);
      const fixed = [broken[0]!, { id: "0002_fill", sql: "INSERT INTO t VALUES (1)" }];
      assert.deepEqual(await migrate(db, fixed), { applied: ["0002_fill"] });
      assert.deepEqual(await db.query("SELECT n FROM t"), [{ n: 1 }]);
      await db.close();
    });

    it("migrate refuses migrations out of order", async () => {
      const db = await open("order");
      await assert.rejects(migrate(db, [steps[1]!, steps[0]!]), isKitError("KIT_ERR_MIGRATION_FAILED"));
      await assert.rejects(migrate(db, [steps[0]!, steps[0]!]), isKitError("KIT_ERR_MIGRATION_FAILED"));
      await assert.rejects(db.query("SELECT * FROM steps"), { code: "42P01" });
      await db.close();
    });

    it("a closed handle refuses calls; other handles go on", async () => {
      const a = await open("close-a");
      const b = await open("close-b");
      await a.close();
      await assert.rejects(a.query("SELECT 1"), isKitError("KIT_ERR_DB_UNAVAILABLE"));
      assert.deepEqual(await b.query("SELECT 1 AS one"), [{ one: 1 }]);
      await b.close();
    });

    it("open rejects a service name that cannot name a schema or database", async () => {
      await assert.rejects(provider.open("Bad Name"), isKitError("KIT_ERR_CONFIG_INVALID"));
      await assert.rejects(provider.open('x"; DROP'), isKitError("KIT_ERR_CONFIG_INVALID"));
    });
  });
}
