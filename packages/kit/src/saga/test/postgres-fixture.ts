// Databases of saga tests on the shared PostgreSQL: unique per run, dropped after.
import { randomBytes } from "node:crypto";
import { dropDatabasesWithPrefix } from "../../testing/postgres.ts";

export const testPostgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A prefix no other run uses, so parallel runs never meet. */
export function testDatabasePrefix(): string {
  return `ft_saga_${randomBytes(4).toString("hex")}_`;
}

/** Drops every database and role made under the prefix. */
export async function dropTestDatabases(prefix: string): Promise<void> {
  await dropDatabasesWithPrefix(prefix, testPostgresUrl);
}
