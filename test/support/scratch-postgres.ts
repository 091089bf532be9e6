// Databases made on the shared PostgreSQL server under a prefix unique to a
// test, and dropped with everything else under it afterwards.
import postgres from "postgres";
import { postgresUrl, uniqueName } from "./engines.ts";

export function scratchPrefix(tag: string): string {
  return `${uniqueName(`ft_${tag}_`)}_`;
}

/** Runs one query as the admin against a service database made under `prefix`. */
export async function queryService<T extends Record<string, unknown>>(prefix: string, service: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const url = new URL(postgresUrl);
  url.pathname = `/${prefix}${service}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    return Array.from(await client.unsafe<T[]>(sql, params as postgres.ParameterOrJSON<never>[]));
  } finally {
    await client.end();
  }
}

/** Drops every database and role whose name starts with `prefix`. */
export async function dropPrefix(prefix: string): Promise<void> {
  const admin = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  try {
    const pattern = `${prefix.replaceAll("_", "\\_")}%`;
    const dbs = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE ${pattern}`;
    for (const { datname } of dbs) await admin.unsafe(`DROP DATABASE "${datname}" WITH (FORCE)`);
    const roles = await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname LIKE ${pattern}`;
    for (const { rolname } of roles) await admin.unsafe(`DROP ROLE "${rolname}"`);
  } finally {
    await admin.end();
  }
}
