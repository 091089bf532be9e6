// Test support shared by the chassis's suites and by services' tests.
export { dropDatabasesWithPrefix, testPostgresUrl, uniqueDatabasePrefix } from "./postgres.ts";
export { createTestIssuer, type TestIssuer } from "../security/jwt/test-issuer.ts";
export { testKeyProvider } from "./keys.ts";
