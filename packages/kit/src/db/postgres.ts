import postgres from "postgres";
import { kitErrors } from "../errors/index.ts";
import { fromPostgresError } from "./postgres-errors.ts";
import { advisoryKey, checkServiceName, quoteIdent, quoteLiteral } from "./sql-names.ts";
import { scopedQueryable, TransactionGuard } from "./transaction-guard.ts";
import type { Database, DatabaseProvider, Queryable } from "./types.ts";

export interface PostgresProviderOptions {
  /** Admin URL, used only to create databases and roles: `postgres://postgres@127.0.0.1:5432/postgres`. */
  url: string;
  /** Create each service's role and database on first open (default true). */
  createDatabases?: boolean;
  /** Prefix of each service's database and role name (default `flotilla_`). */
  databasePrefix?: string;
  /** Connections per service handle (default 10). */
  poolSize?: number;
  /** Password of each service's role, by service name; none means the server trusts local roles. */
  passwords?: Record<string, string>;
}

type Sql = postgres.Sql;

// Duplicate role/database, or the unique index losing a race between two creators.
const ALREADY_EXISTS = new Set(["42710", "42P04", "23505"]);

// One statement over the extended protocol even without parameters, as on
// PGlite (the client would otherwise use the simple protocol); `simple` is
// read by the client but missing from its types. Prepared statements are
// cached per connection, and re-prepared by the client after a schema change.
const QUERY_OPTIONS = { prepare: true, simple: false } as postgres.UnsafeQueryOptions;

// int8 stays a string (the client's default, and PGlite's here too); see pglite.ts.
const CLIENT_OPTIONS = { onnotice: () => {} } as const;

/**
 * A database and a LOGIN role per service on one PostgreSQL server. The
 * admin URL only provisions; each service then connects as its own role,
 * which owns its database, while CONNECT is revoked from everyone else.
 */
export class PostgresProvider implements DatabaseProvider {
  readonly kind = "postgres";
  readonly #url: string;
  readonly #create: boolean;
  readonly #prefix: string;
  readonly #poolSize: number | undefined;
  readonly #passwords: Record<string, string>;
  readonly #clients = new Set<Sql>();
  #admin: Sql | undefined;
  #closed = false;

  constructor(options: PostgresProviderOptions) {
    this.#url = options.url;
    this.#create = options.createDatabases ?? true;
    this.#prefix = options.databasePrefix ?? "flotilla_";
    this.#poolSize = options.poolSize;
    this.#passwords = options.passwords ?? {};
    if (!/^[a-z_][a-z0-9_]*$/.test(this.#prefix)) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `databasePrefix "${this.#prefix}" must be lower-case letters, digits and _`);
    }
  }

  async open(service: string): Promise<Database> {
    checkServiceName(service);
    if (this.#closed) throw kitErrors.create("KIT_ERR_DB_UNAVAILABLE", "the database provider is closed");
    const name = this.#prefix + service;
    const password = this.#passwords[service];
    if (this.#create) await this.#provision(name, password);
    const sql = postgres(this.#url, {
      ...CLIENT_OPTIONS,
      username: name,
      database: name,
      ...(password === undefined ? {} : { password }),
      ...(this.#poolSize === undefined ? {} : { max: this.#poolSize }),
      connection: { application_name: `flotilla-${service}` },
    });
    this.#clients.add(sql);
    try {
      // Fail at start, not on the first request.
      await sql`SELECT 1`;
      if (this.#closed) throw kitErrors.create("KIT_ERR_DB_UNAVAILABLE", "the database provider was closed while opening");
    } catch (error) {
      this.#clients.delete(sql);
      await sql.end({ timeout: 0 });
      throw fromPostgresError(error, `${service}: cannot connect to database ${name}`);
    }
    return serviceDatabase(service, sql, () => this.#clients.delete(sql));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const clients = [...this.#clients, ...(this.#admin ? [this.#admin] : [])];
    this.#clients.clear();
    this.#admin = undefined;
    await Promise.all(clients.map((sql) => sql.end({ timeout: 5 })));
  }

  // Idempotent, and serialised across replicas by an advisory lock on the
  // admin database: concurrent CREATE ROLE / GRANT can otherwise fail with
  // "already exists" or "tuple concurrently updated".
  async #provision(name: string, password: string | undefined): Promise<void> {
    this.#admin ??= postgres(this.#url, { ...CLIENT_OPTIONS, max: 1 });
    let conn: postgres.ReservedSql | undefined;
    try {
      conn = await this.#admin.reserve();
      const key = advisoryKey(`flotilla:provision:${name}`);
      await conn`SELECT pg_advisory_lock(${key}::bigint)`;
      try {
        const login = password === undefined ? "LOGIN" : `LOGIN PASSWORD ${quoteLiteral(password)}`;
        const roles = await conn`SELECT 1 FROM pg_roles WHERE rolname = ${name}`;
        if (roles.length === 0) await tolerateExisting(conn.unsafe(`CREATE ROLE ${quoteIdent(name)} ${login}`));
        else if (password !== undefined) await conn.unsafe(`ALTER ROLE ${quoteIdent(name)} ${login}`);
        const dbs = await conn`SELECT 1 FROM pg_database WHERE datname = ${name}`;
        if (dbs.length === 0) await tolerateExisting(conn.unsafe(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(name)}`));
        await conn.unsafe(`REVOKE CONNECT ON DATABASE ${quoteIdent(name)} FROM PUBLIC`);
      } finally {
        await conn`SELECT pg_advisory_unlock(${key}::bigint)`;
      }
    } catch (error) {
      throw fromPostgresError(error, `cannot create database ${name}`);
    } finally {
      conn?.release();
    }
  }
}

async function tolerateExisting(pending: Promise<unknown>): Promise<void> {
  try {
    await pending;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !ALREADY_EXISTS.has(code)) throw error;
  }
}

function serviceDatabase(service: string, sql: Sql, forget: () => void): Database {
  const guard = new TransactionGuard();
  const what = `${service}: database`;
  const base = queryable(sql, what);
  return {
    service,
    query: async (text, params) => {
      guard.check(service);
      return base.query(text, params);
    },
    exec: async (text) => {
      guard.check(service);
      return base.exec(text);
    },
    transaction: async (fn) => {
      guard.check(service);
      try {
        // sql.begin's result type unwraps arrays, which T may be; the value is fn's own.
        return (await sql.begin(async (raw) => {
          const { tx, end } = scopedQueryable(queryable(raw, what), service);
          try {
            return await guard.run(() => fn(tx));
          } finally {
            end();
          }
        })) as Awaited<ReturnType<typeof fn>>;
      } catch (error) {
        throw fromPostgresError(error, what);
      }
    },
    close: async () => {
      forget();
      await sql.end({ timeout: 5 });
    },
  };
}

function queryable(sql: Sql | postgres.TransactionSql, what: string): Queryable {
  return {
    query: async <T extends Record<string, unknown>>(text: string, params: readonly unknown[] = []) => {
      try {
        // A plain array of plain objects, not the client's Result subclass.
        return Array.from(await sql.unsafe<T[]>(text, params as postgres.ParameterOrJSON<never>[], QUERY_OPTIONS));
      } catch (error) {
        throw fromPostgresError(error, what);
      }
    },
    exec: async (text) => {
      try {
        // No parameters: the simple protocol, which runs several statements.
        await sql.unsafe(text);
      } catch (error) {
        throw fromPostgresError(error, what);
      }
    },
  };
}
