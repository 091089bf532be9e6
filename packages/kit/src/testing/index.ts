// Test support shared by the chassis's suites and by services' tests.
export { dropDatabasesWithPrefix, testPostgresUrl, uniqueDatabasePrefix } from "./postgres.ts";
