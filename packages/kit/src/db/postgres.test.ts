import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import postgres from "postgres";
import { databaseConformance } from "./conformance.ts";
import { PostgresProvider } from "./postgres.ts";
import { dropDatabasesWithPrefix } from "../testing/postgres.ts";

const url = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
// Unique per run, so parallel runs never meet, and everything made here can be dropped.
const databasePrefix = `ft_${randomBytes(4).toString("hex")}_`;
const makeProvider = async () => new PostgresProvider({ url, databasePrefix, poolSize: 4 });

databaseConformance("postgres", makeProvider, {
  makeReplica: makeProvider,
  // A service's role may not even connect to another service's database.
  intrude: async (intruder, owner, table) => {
    const sql = postgres(url, { username: databasePrefix + intruder.service, database: databasePrefix + owner.service, max: 1, onnotice: () => {} });
    try {
      await assert.rejects(sql.unsafe(`SELECT * FROM ${table}`), { code: "42501", message: /permission denied for database/ });
    } finally {
      await sql.end({ timeout: 0 });
    }
  },
});

test("postgres services connect as their own role, not the admin", async () => {
  const provider = await makeProvider();
  try {
    const db = await provider.open("whoami");
    assert.deepEqual(await db.query("SELECT current_user AS u, current_database() AS d"), [
      { u: `${databasePrefix}whoami`, d: `${databasePrefix}whoami` },
    ]);
    await assert.rejects(db.exec("CREATE ROLE intruder"), { code: "42501" });
    await db.close();
  } finally {
    await provider.close();
  }
});

test("postgres: a role gets the configured password, and a new one replaces it", async () => {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const stored = async () =>
    (await admin<{ p: string | null }[]>`SELECT rolpassword AS p FROM pg_authid WHERE rolname = ${`${databasePrefix}secret`}`)[0]?.p;
  try {
    for (const password of ["it's s3cret", "rotated"]) {
      const provider = new PostgresProvider({ url, databasePrefix, passwords: { secret: password } });
      const before = await stored();
      const db = await provider.open("secret");
      assert.deepEqual(await db.query("SELECT 1 AS ok"), [{ ok: 1 }]);
      const after = await stored();
      assert.match(after ?? "", /^SCRAM-SHA-256\$/);
      assert.notEqual(after, before);
      await provider.close();
    }
  } finally {
    await admin.end();
  }
});

test("postgres: an unreachable server is KIT_ERR_DB_UNAVAILABLE, retryable, with the cause", async () => {
  const provider = new PostgresProvider({ url: "postgres://postgres@127.0.0.1:1/postgres", databasePrefix });
  try {
    await assert.rejects(provider.open("nowhere"), (error: unknown) => {
      const e = error as { code: string; retryable: boolean; cause?: { code?: string } };
      return e.code === "KIT_ERR_DB_UNAVAILABLE" && e.retryable && e.cause?.code === "ECONNREFUSED";
    });
  } finally {
    await provider.close();
  }
});

test("postgres: without createDatabases nothing is created", async () => {
  const provider = new PostgresProvider({ url, databasePrefix, createDatabases: false });
  try {
    await assert.rejects(provider.open("absent"), { code: "28000" });
  } finally {
    await provider.close();
  }
});

after(() => dropDatabasesWithPrefix(databasePrefix, url));
