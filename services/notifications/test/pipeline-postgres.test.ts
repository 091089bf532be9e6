// The same pipeline with the service's data on PostgreSQL (database and role of its own).
import { PostgresProvider } from "@flotilla/kit/internal";
import { dropDatabasesWithPrefix, testPostgresUrl, uniqueDatabasePrefix } from "@flotilla/kit/testing";
import { pipelineSuite } from "./pipeline-suite.ts";

const databasePrefix = uniqueDatabasePrefix("ntf");
pipelineSuite("postgres", async () => new PostgresProvider({ url: testPostgresUrl, databasePrefix, poolSize: 4 }), () => dropDatabasesWithPrefix(databasePrefix));
