// One crash test's private world: its own nats-server (which it may kill),
// its own databases on the shared PostgreSQL, and the child services it
// runs; close() removes all of it, whatever state the test left it in.
import { postgresUrl } from "./engines.ts";
import { type PrivateNats, startPrivateNats } from "./nats-server.ts";
import { killAllScripts } from "./node-script.ts";
import { dropPrefix, queryService, scratchPrefix } from "./scratch-postgres.ts";

export interface CrashWorld {
  readonly nats: PrivateNats;
  readonly prefix: string;
  /** The environment of a child service, plus `extra`. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** A number from one query (e.g. a count) in a service's database. */
  number(service: string, sql: string, params?: unknown[]): Promise<number>;
  query<T extends Record<string, unknown>>(service: string, sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function startCrashWorld(tag: string): Promise<CrashWorld> {
  const nats = await startPrivateNats();
  const prefix = scratchPrefix(tag);
  return {
    nats,
    prefix,
    env: (extra = {}) => ({ CRASH_NATS_URL: nats.url, CRASH_POSTGRES_URL: postgresUrl, CRASH_DB_PREFIX: prefix, ...extra }),
    number: async (service, sql, params = []) => {
      const [row] = await queryService<{ n: string | number }>(prefix, service, sql, params);
      return Number(row?.n ?? Number.NaN);
    },
    query: (service, sql, params = []) => queryService(prefix, service, sql, params),
    close: async () => {
      await killAllScripts();
      await nats.destroy();
      await dropPrefix(prefix);
    },
  };
}
