/** Something that runs SQL: a database handle or an open transaction. */
export interface Queryable {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * One service's database. Implementations: PGlite (embedded, a schema per
 * service in one instance) and PostgreSQL (a database and role per service).
 */
export interface Database extends Queryable {
  /** The service whose data this is; it sees nothing else. */
  readonly service: string;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** An ordered, immutable schema change. `id` sorts in order: `0001_create_events`. */
export interface Migration {
  id: string;
  sql: string;
}

/** Opens per-service databases on one backend (one PGlite, or one PostgreSQL server). */
export interface DatabaseProvider {
  readonly kind: "pglite" | "postgres";
  open(service: string): Promise<Database>;
  close(): Promise<void>;
}
