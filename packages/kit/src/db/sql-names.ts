import { createHash } from "node:crypto";
import { kitErrors } from "../errors/index.ts";

// The same rule as defineService: lower-case, so it is a valid schema, role
// and database name once quoted, and well under PostgreSQL's 63-byte limit.
const SERVICE_NAME = /^[a-z][a-z0-9-]{1,30}$/;

/** Rejects a service name that cannot name a schema, role or database. */
export function checkServiceName(service: string): void {
  if (!SERVICE_NAME.test(service)) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `database service name "${service}" must match ${SERVICE_NAME}`);
  }
}

/** Quotes an identifier for DDL, where parameters cannot be used. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for DDL (standard_conforming_strings is on since PostgreSQL 9.1). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A stable 64-bit advisory-lock key for a name, as a decimal string to pass
 * as `$1::bigint`. Derived here rather than with `hashtext()`, which is an
 * internal function whose output PostgreSQL does not promise to keep.
 */
export function advisoryKey(name: string): string {
  const digest = createHash("sha256").update(name).digest();
  return digest.readBigInt64BE(0).toString();
}
