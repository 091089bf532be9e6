import { Mutex, PGlite, type Transaction } from "@electric-sql/pglite";
import { kitErrors } from "../errors/index.ts";
import { checkServiceName, quoteIdent } from "./sql-names.ts";
import { scopedQueryable, TransactionGuard } from "./transaction-guard.ts";
import type { Database, DatabaseProvider, Queryable } from "./types.ts";

export interface PgliteProviderOptions {
  /** Where PGlite keeps its files; undefined keeps everything in memory (tests). */
  dataDir?: string;
}

type Connection = Pick<Transaction, "query" | "exec">;

// int8 comes back as a string, as from PostgreSQL through the `postgres`
// client: a JS number would silently lose precision past 2^53.
const INT8 = 20;

/**
 * All services of the embedded runtime in ONE PGlite (each instance costs
 * about a second and hundreds of MB): a schema named after each service,
 * owned by a NOLOGIN role `flotilla_<service>` (the same role name as on
 * PostgreSQL with the default prefix).
 *
 * PGlite is a single connection, so every call of every handle runs under
 * one lock and starts by switching to its service's role and search_path;
 * a transaction keeps the lock until it ends. The role, not only the
 * search_path, is what keeps a service out of another's schema: a qualified
 * `other.table` fails with permission denied. It guards against mistakes, not
 * hostile SQL: the session user is a superuser, so `RESET ROLE` escapes it.
 */
export class PgliteProvider implements DatabaseProvider {
  readonly kind = "pglite";
  readonly dataDir: string | undefined;
  readonly #lock = new Mutex();
  readonly #guard = new TransactionGuard();
  #instance: Promise<PGlite> | undefined;
  #closed = false;

  constructor(options: PgliteProviderOptions = {}) {
    this.dataDir = options.dataDir;
  }

  async open(service: string): Promise<Database> {
    checkServiceName(service);
    // `public` would share the schema every role can see.
    if (service === "public") throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `service name "public" is reserved on PGlite`);
    const role = `flotilla_${service}`;
    await this.#exclusive(service, async (pg) => {
      await pg.exec("RESET ROLE; RESET search_path");
      const found = await pg.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      if (found.rows.length === 0) await pg.exec(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
      await pg.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(service)} AUTHORIZATION ${quoteIdent(role)}`);
    });
    const enter = `SET ROLE ${quoteIdent(role)}; SET search_path TO ${quoteIdent(service)}`;
    const enterLocal = `SET LOCAL ROLE ${quoteIdent(role)}; SET LOCAL search_path TO ${quoteIdent(service)}`;
    let closed = false;
    const run = <T>(fn: (pg: PGlite) => Promise<T>): Promise<T> =>
      closed ? Promise.reject(kitErrors.create("KIT_ERR_DB_UNAVAILABLE", `${service}: database handle is closed`)) : this.#exclusive(service, fn);
    // Set on every call: the previous holder of the connection may have been another service.
    const session = <T>(fn: (q: Queryable) => Promise<T>) =>
      run(async (pg) => {
        await pg.exec(enter);
        return fn(queryable(pg));
      });
    return {
      service,
      query: (sql, params) => session((q) => q.query(sql, params)),
      exec: (sql) => session((q) => q.exec(sql)),
      transaction: (fn) =>
        run((pg) =>
          pg.transaction(async (raw) => {
            await raw.exec(enterLocal);
            const { tx, end } = scopedQueryable(queryable(raw), service);
            try {
              return await this.#guard.run(() => fn(tx));
            } finally {
              end();
            }
          }),
        ),
      close: async () => {
        closed = true;
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const instance = this.#instance;
    if (instance === undefined) return;
    // Waits for the call in progress; later ones are refused by #exclusive.
    await this.#lock.runExclusive(async () => {
      const pg = await instance.catch(() => undefined);
      if (pg !== undefined && !pg.closed) await pg.close();
    });
  }

  #exclusive<T>(service: string, fn: (pg: PGlite) => Promise<T>): Promise<T> {
    try {
      this.#guard.check(service);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#lock.runExclusive(async () => {
      if (this.#closed) throw kitErrors.create("KIT_ERR_DB_UNAVAILABLE", "the embedded database is closed");
      return fn(await this.#start());
    });
  }

  // Started on first open() so that resolving a provider costs nothing.
  #start(): Promise<PGlite> {
    this.#instance ??= PGlite.create({ dataDir: this.dataDir, parsers: { [INT8]: (value: string) => value } }).catch((cause: unknown) => {
      this.#instance = undefined;
      throw kitErrors.create("KIT_ERR_DB_UNAVAILABLE", `PGlite could not start${this.dataDir ? ` in ${this.dataDir}` : ""}`, { cause });
    });
    return this.#instance;
  }
}

function queryable(pg: Connection): Queryable {
  return {
    query: async <T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) => (await pg.query<T>(sql, [...params])).rows,
    exec: async (sql) => void (await pg.exec(sql)),
  };
}
