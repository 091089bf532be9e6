// PostgreSQL for the conformance runs of eventstore/ and projections/: a
// prefix unique to the run, and everything made under it dropped at the end.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { PostgresProvider } from "../db/postgres.ts";
import { quoteIdent } from "../db/sql-names.ts";

export const postgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function postgresTestSetup(tag: string) {
  const databasePrefix = `ft_${tag}_${randomBytes(4).toString("hex")}_`;
  return {
    databasePrefix,
    makeProvider: async () => new PostgresProvider({ url: postgresUrl, databasePrefix, poolSize: 6 }),
    /** Drops the run's databases and roles. */
    async dropAll(): Promise<void> {
      const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
      try {
        const pattern = `${databasePrefix.replaceAll("_", "\\_")}%`;
        const dbs = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE ${pattern}`;
        for (const { datname } of dbs) await admin.unsafe(`DROP DATABASE ${quoteIdent(datname)} WITH (FORCE)`);
        const roles = await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname LIKE ${pattern}`;
        for (const { rolname } of roles) await admin.unsafe(`DROP ROLE ${quoteIdent(rolname)}`);
      } finally {
        await admin.end();
      }
    },
  };
}
