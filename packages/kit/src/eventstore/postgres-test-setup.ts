// PostgreSQL for the conformance runs of eventstore/ and projections/: a
// prefix unique to the run, and everything made under it dropped at the end.
import { randomBytes } from "node:crypto";
import { PostgresProvider } from "../db/postgres.ts";
import { dropDatabasesWithPrefix } from "../testing/postgres.ts";

export const postgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function postgresTestSetup(tag: string) {
  const databasePrefix = `ft_${tag}_${randomBytes(4).toString("hex")}_`;
  return {
    databasePrefix,
    makeProvider: async () => new PostgresProvider({ url: postgresUrl, databasePrefix, poolSize: 6 }),
    /** Drops the run's databases and roles. */
    async dropAll(): Promise<void> {
      await dropDatabasesWithPrefix(databasePrefix, postgresUrl);
    },
  };
}
