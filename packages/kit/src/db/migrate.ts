import { createHash } from "node:crypto";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import { advisoryKey } from "./sql-names.ts";
import type { Database, Migration, Queryable } from "./types.ts";

const TABLE = `CREATE TABLE IF NOT EXISTS flotilla_migrations (
  id text PRIMARY KEY,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

interface AppliedRow extends Record<string, unknown> {
  id: string;
  checksum: string;
}

/**
 * Brings a service's schema up to date. Each migration runs in its own
 * transaction with its bookkeeping row, under an advisory lock on the
 * service, so replicas starting together apply each exactly once. A migration
 * whose SQL changed since it was applied stops the start: fix it with a new
 * migration, never by editing an applied one.
 *
 *   await migrate(db, [{ id: "0001_create_events", sql: "CREATE TABLE events (...)" }]);
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<{ applied: string[] }> {
  checkOrder(db.service, migrations);
  const lockKey = advisoryKey(`flotilla_migrations:${db.service}`);
  const sums = new Map(migrations.map((m) => [m.id, checksum(m.sql)]));
  const locked = <T>(fn: (tx: Queryable) => Promise<T>) =>
    db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey]);
      return fn(tx);
    });

  // Verify everything applied before changing anything.
  const done = await locked(async (tx) => {
    await tx.exec(TABLE);
    const rows = await tx.query<AppliedRow>("SELECT id, checksum FROM flotilla_migrations");
    for (const row of rows) verify(db.service, row, sums);
    return new Set(rows.map((r) => r.id));
  });

  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.id)) continue;
    const ran = await locked(async (tx) => {
      // Another replica may have applied it since the first look.
      const rows = await tx.query<AppliedRow>("SELECT id, checksum FROM flotilla_migrations WHERE id = $1", [migration.id]);
      const row = rows[0];
      if (row !== undefined) {
        verify(db.service, row, sums);
        return false;
      }
      try {
        await tx.exec(migration.sql);
      } catch (cause) {
        if (cause instanceof FlotillaError) throw cause;
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw kitErrors.create("KIT_ERR_MIGRATION_FAILED", `${db.service}: migration ${migration.id} failed: ${reason}`, { cause });
      }
      await tx.query("INSERT INTO flotilla_migrations (id, checksum) VALUES ($1, $2)", [migration.id, sums.get(migration.id)]);
      return true;
    });
    if (ran) applied.push(migration.id);
  }
  return { applied };
}

function checksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

// Rows of migrations this code does not know (a newer release rolled back) are left alone.
function verify(service: string, row: AppliedRow, sums: ReadonlyMap<string, string>): void {
  const expected = sums.get(row.id);
  if (expected !== undefined && expected !== row.checksum) {
    throw kitErrors.create(
      "KIT_ERR_MIGRATION_FAILED",
      `${service}: migration ${row.id} was changed after it was applied (checksum mismatch); add a new migration instead`,
    );
  }
}

function checkOrder(service: string, migrations: readonly Migration[]): void {
  for (let i = 1; i < migrations.length; i++) {
    const before = migrations[i - 1]!.id;
    const id = migrations[i]!.id;
    if (!(before < id)) {
      throw kitErrors.create("KIT_ERR_MIGRATION_FAILED", `${service}: migration ids must be unique and in order, but ${id} follows ${before}`);
    }
  }
}
