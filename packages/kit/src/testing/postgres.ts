// Test support for suites on the shared PostgreSQL: a database prefix unique to
// the run, and a clean-up that drops everything made under it.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { quoteIdent } from "../db/sql-names.ts";

export const testPostgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** `ft_<tag>_<random>_`: no other run uses it, so parallel runs never meet. */
export function uniqueDatabasePrefix(tag: string): string {
  return `ft_${tag}_${randomBytes(4).toString("hex")}_`;
}

/** Drops every database and role whose name starts with `prefix`. */
export async function dropDatabasesWithPrefix(prefix: string, url: string = testPostgresUrl): Promise<void> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
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
