import { kitErrors } from "../errors/index.ts";
import { PgliteProvider } from "./pglite.ts";
import { PostgresProvider, type PostgresProviderOptions } from "./postgres.ts";
import type { DatabaseProvider } from "./types.ts";

export { migrate } from "./migrate.ts";
export { PgliteProvider, type PgliteProviderOptions } from "./pglite.ts";
export { PostgresProvider, type PostgresProviderOptions } from "./postgres.ts";
export type { Database, DatabaseProvider, Migration, Queryable } from "./types.ts";

/** PostgreSQL settings other than the URL (ignored for PGlite), and PGlite's data directory. */
export interface DatabaseProviderOptions extends Omit<PostgresProviderOptions, "url"> {
  /** Data directory for a bare `pglite` (default `.flotilla/pglite`, relative to the working directory). */
  pgliteDataDir?: string;
}

/**
 * Resolves the database backend from its URL:
 *   `memory`                    in-memory PGlite (tests)
 *   `pglite`, `pglite://<dir>`  PGlite persisted in a directory (embedded runtime)
 *   `postgres://…`, `postgresql://…`  PostgreSQL admin URL (a database and role per service)
 * Nothing is started or connected until the first open().
 */
export function createDatabaseProvider(url: string, options: DatabaseProviderOptions = {}): DatabaseProvider {
  if (url === "memory") return new PgliteProvider();
  if (url === "pglite") return new PgliteProvider({ dataDir: options.pgliteDataDir ?? ".flotilla/pglite" });
  if (url.startsWith("pglite://")) {
    const dataDir = url.slice("pglite://".length);
    if (dataDir === "") throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `database URL "${url}" names no data directory`);
    return new PgliteProvider({ dataDir });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { pgliteDataDir: _, ...postgres } = options;
    return new PostgresProvider({ ...postgres, url });
  }
  throw kitErrors.create("KIT_ERR_UNKNOWN_BACKEND", `no database backend handles "${redact(url)}"; use memory, pglite, pglite://<dir> or postgres://…`);
}

// The URL goes into logs: keep a password out of them.
function redact(url: string): string {
  return url.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
}
