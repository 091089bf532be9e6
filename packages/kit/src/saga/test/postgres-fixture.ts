// Databases of saga tests on the shared PostgreSQL: unique per run, dropped after.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { quoteIdent } from "../../db/sql-names.ts";

export const testPostgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A prefix no other run uses, so parallel runs never meet. */
export function testDatabasePrefix(): string {
  return `ft_saga_${randomBytes(4).toString("hex")}_`;
}

/** Drops every database and role made under the prefix. */
export async function dropTestDatabases(prefix: string): Promise<void> {
  const admin = postgres(testPostgresUrl, { max: 1, onnotice: () => {} });
  try {
    const pattern = `${prefix.replaceAll("_", "\\_")}%`;
    const dbs = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE ${pattern}`;
    for (const { datname } of dbs) await admin.unsafe(`DROP DATABASE ${quoteIdent(datname)} WITH (FORCE)`);
    const roles = await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname LIKE ${pattern}`;
    for (const { rolname } of roles) await admin.unsafe(`DROP ROLE ${quoteIdent(rolname)}`);
  } finally {
    await admin.end();
  }
}
