import { after } from "node:test";
import { PostgresProvider } from "../db/postgres.ts";
import { sagaSuite } from "./orchestrator-suite.ts";
import { dropTestDatabases, testDatabasePrefix, testPostgresUrl } from "./test/postgres-fixture.ts";

const databasePrefix = testDatabasePrefix();
sagaSuite("postgres", async () => new PostgresProvider({ url: testPostgresUrl, databasePrefix, poolSize: 4 }));
after(() => dropTestDatabases(databasePrefix));
