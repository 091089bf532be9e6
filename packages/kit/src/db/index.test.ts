import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { createDatabaseProvider, PgliteProvider, PostgresProvider } from "./index.ts";

test("memory and pglite URLs resolve to PGlite without starting it", async () => {
  const memory = createDatabaseProvider("memory");
  assert.ok(memory instanceof PgliteProvider);
  assert.equal(memory.kind, "pglite");
  assert.equal(memory.dataDir, undefined);

  const dev = createDatabaseProvider("pglite");
  assert.ok(dev instanceof PgliteProvider);
  assert.equal(dev.dataDir, ".flotilla/pglite");
  assert.equal((createDatabaseProvider("pglite", { pgliteDataDir: "var/db" }) as PgliteProvider).dataDir, "var/db");
  assert.equal((createDatabaseProvider("pglite://./data/pg") as PgliteProvider).dataDir, "./data/pg");
  assert.equal((createDatabaseProvider("pglite:///srv/pg") as PgliteProvider).dataDir, "/srv/pg");
  assert.throws(() => createDatabaseProvider("pglite://"), { code: "KIT_ERR_CONFIG_INVALID" });
  // Never started, so closing is immediate.
  await Promise.all([memory.close(), dev.close()]);
});

test("postgres URLs resolve to PostgreSQL without connecting", async () => {
  for (const url of ["postgres://postgres@127.0.0.1:1/postgres", "postgresql://postgres@127.0.0.1:1/postgres"]) {
    const provider = createDatabaseProvider(url, { databasePrefix: "x_", pgliteDataDir: "ignored" });
    assert.ok(provider instanceof PostgresProvider);
    assert.equal(provider.kind, "postgres");
    await provider.close();
  }
  assert.throws(() => createDatabaseProvider("postgres://h/db", { databasePrefix: "Bad-" }), { code: "KIT_ERR_CONFIG_INVALID" });
});

test("an unknown scheme is KIT_ERR_UNKNOWN_BACKEND naming the URL, without its password", () => {
  assert.throws(
    () => createDatabaseProvider("mysql://root:hunter2@db:3306/app"),
    (error: unknown) =>
      error instanceof FlotillaError &&
      error.code === "KIT_ERR_UNKNOWN_BACKEND" &&
      error.message.includes("mysql://root:***@db:3306/app") &&
      !error.message.includes("hunter2"),
  );
  assert.throws(() => createDatabaseProvider(""), { code: "KIT_ERR_UNKNOWN_BACKEND" });
});
