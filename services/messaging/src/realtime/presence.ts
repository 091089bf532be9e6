// Who is online, shared by the replicas through the database, so that
// presence survives the replica that announced it:
//
// - A replica writes a row per user it holds a socket of (`presence`), under
//   its own lease (`realtime_replicas`), renewed every third of the lease.
// - A replica killed outright stops renewing. Once its lease has ended, any
//   other replica deletes its rows (one of them: SKIP LOCKED) and announces
//   offline those users who are on no live replica.
// - A replica that stops gracefully shortens its lease to `stopGraceMs`
//   instead of deleting its rows: its users reconnect elsewhere within it and
//   are never announced offline; those who do not are, by the same sweep.
// - A new socket's `ready` lists its contacts online (onlineContacts).
//
// Changes are written in batches (every `flushMs`) and announced only after
// their batch committed, so a snapshot read after an announcement includes
// it. Offline is announced only when the user has no row left on a live
// replica, checked after the delete committed: two replicas dropping the same
// user at once both announce (a repeat), never neither.
import type { Database, Logger, Queryable } from "@flotilla/kit";

export interface PresenceOptions {
  db: Database;
  log: Logger;
  replicaId: string;
  /** A replica that has not renewed its lease for this long is dead. */
  leaseMs: number;
  /** Lease left to a replica that stops: the time its users have to reconnect elsewhere. @default 5 000 */
  stopGraceMs?: number;
  /** @default 100 */
  flushMs?: number;
  /** Tells the users' contacts, after the change is stored (a batch at a time: one read of contacts for all). */
  announce(userIds: readonly string[], online: boolean): void;
  /** Users taken off a dead replica by this one's sweep (metrics). */
  swept?(users: number): void;
  /** Every user this replica holds a socket of (written again if this replica's rows were swept while it was alive but stalled). */
  held(): Iterable<string>;
}

export class PresenceBook {
  readonly #o: PresenceOptions;
  /** Pending changes: user → online; the last change of a batch wins. */
  #changes = new Map<string, boolean>();
  readonly #flushTimer: NodeJS.Timeout;
  readonly #leaseTimer: NodeJS.Timeout;
  #flushing: Promise<void> | undefined;
  #renewing: Promise<void> | undefined;
  #registered = false;
  #stopped = false;

  constructor(options: PresenceOptions) {
    this.#o = options;
    this.#flushTimer = setInterval(() => void this.flush(), options.flushMs ?? 100).unref();
    this.#leaseTimer = setInterval(() => void this.renewAndSweep(), Math.max(50, Math.floor(options.leaseMs / 3))).unref();
    void this.renewAndSweep();
  }

  online(userId: string): void {
    if (!this.#stopped) this.#changes.set(userId, true);
  }

  offline(userId: string): void {
    if (!this.#stopped) this.#changes.set(userId, false);
  }

  /** Writes the pending changes, then announces them. A failed batch is put back for the next tick. */
  flush(): Promise<void> {
    if (this.#flushing || this.#changes.size === 0) return this.#flushing ?? Promise.resolve();
    const batch = this.#changes;
    this.#changes = new Map();
    const on = [...batch].filter(([, online]) => online).map(([user]) => user);
    const off = [...batch].filter(([, online]) => !online).map(([user]) => user);
    this.#flushing = (async () => {
      try {
        const { db, replicaId, leaseMs } = this.#o;
        const reinserted = await db.transaction(async (tx) => {
          const fresh = await renewLease(tx, replicaId, leaseMs);
          if (on.length > 0) await writeRows(tx, replicaId, on);
          if (off.length > 0) await tx.query("DELETE FROM presence WHERE replica_id = $2 AND user_id = ANY($1::text[])", [off, replicaId]);
          return fresh;
        });
        if (reinserted) await this.#reregister();
        if (on.length > 0) this.#o.announce(on, true);
        const gone = await offlineAmong(db, off);
        if (gone.length > 0) this.#o.announce(gone, false);
      } catch (error) {
        this.#o.log.warn({ err: error, changes: batch.size }, "presence batch failed; retrying");
        for (const [user, online] of batch) if (!this.#changes.has(user)) this.#changes.set(user, online);
      }
    })().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Renews this replica's lease, and clears the replicas whose lease ended. */
  renewAndSweep(): Promise<void> {
    if (this.#renewing || this.#stopped) return this.#renewing ?? Promise.resolve();
    this.#renewing = (async () => {
      try {
        const { db, replicaId, leaseMs } = this.#o;
        if (await db.transaction((tx) => renewLease(tx, replicaId, leaseMs))) await this.#reregister();
        const dropped = await db.transaction((tx) => sweepDead(tx));
        if (dropped.length > 0) this.#o.swept?.(dropped.length);
        const gone = await offlineAmong(db, dropped);
        if (gone.length > 0) this.#o.announce(gone, false);
      } catch (error) {
        this.#o.log.warn({ err: error }, "presence lease or sweep failed; will retry");
      }
    })().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /** Writes what is pending and leaves this replica's users `stopGraceMs` to reconnect elsewhere. */
  async stop(): Promise<void> {
    clearInterval(this.#flushTimer);
    clearInterval(this.#leaseTimer);
    await this.#renewing;
    await this.flush();
    this.#stopped = true;
    await this.#o.db
      .query("UPDATE realtime_replicas SET lease_until = now() + make_interval(secs => $2::float8 / 1000) WHERE replica_id = $1", [this.#o.replicaId, this.#o.stopGraceMs ?? 5000])
      .catch((error: unknown) => this.#o.log.warn({ err: error }, "cannot shorten the presence lease; it ends on its own"));
  }

  // The first lease is a registration; a later one means another replica
  // swept this one (it stalled past its lease): its users are written again.
  async #reregister(): Promise<void> {
    if (!this.#registered) {
      this.#registered = true;
      return;
    }
    const users = [...this.#o.held()];
    this.#o.log.warn({ users: users.length }, "this replica's presence lease had ended; writing its users again");
    await writeRows(this.#o.db, this.#o.replicaId, users);
    if (users.length > 0) this.#o.announce(users, true);
  }
}

/** Records `users` as held by `replicaId`. */
async function writeRows(db: Queryable, replicaId: string, users: readonly string[]): Promise<void> {
  await db.query("INSERT INTO presence (user_id, replica_id) SELECT u, $2 FROM unnest($1::text[]) AS u ON CONFLICT DO NOTHING", [[...users], replicaId]);
}

/** Extends the replica's lease; answers true when the row had to be created. */
async function renewLease(tx: Queryable, replicaId: string, leaseMs: number): Promise<boolean> {
  const [row] = await tx.query<{ created: boolean }>(
    `INSERT INTO realtime_replicas (replica_id, lease_until) VALUES ($1, now() + make_interval(secs => $2::float8 / 1000))
     ON CONFLICT (replica_id) DO UPDATE SET lease_until = EXCLUDED.lease_until
     RETURNING (xmax = 0) AS created`,
    [replicaId, leaseMs],
  );
  return row?.created === true;
}

/** Deletes the replicas whose lease ended and their presence rows; answers the users they held. */
async function sweepDead(tx: Queryable): Promise<string[]> {
  const dead = await tx.query<{ replica_id: string }>("SELECT replica_id FROM realtime_replicas WHERE lease_until < now() FOR UPDATE SKIP LOCKED");
  if (dead.length === 0) return [];
  const ids = dead.map((r) => r.replica_id);
  const rows = await tx.query<{ user_id: string }>("DELETE FROM presence WHERE replica_id = ANY($1::text[]) RETURNING user_id", [ids]);
  await tx.query("DELETE FROM realtime_replicas WHERE replica_id = ANY($1::text[])", [ids]);
  return [...new Set(rows.map((r) => r.user_id))];
}

/** Those of `users` who are on no live replica. */
async function offlineAmong(db: Queryable, users: readonly string[]): Promise<string[]> {
  if (users.length === 0) return [];
  const rows = await db.query<{ user_id: string }>(
    `SELECT u AS user_id FROM unnest($1::text[]) AS u
     WHERE NOT EXISTS (SELECT 1 FROM presence p JOIN realtime_replicas r ON r.replica_id = p.replica_id WHERE p.user_id = u AND r.lease_until > now())`,
    [[...users]],
  );
  return rows.map((r) => r.user_id);
}

/** The contacts of `userId` (people who share a conversation with them) who are on a live replica. */
export async function onlineContacts(db: Queryable, userId: string): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    `SELECT DISTINCT o.user_id FROM members m
     JOIN members o ON o.conversation_id = m.conversation_id AND o.user_id <> m.user_id
     JOIN presence p ON p.user_id = o.user_id
     JOIN realtime_replicas r ON r.replica_id = p.replica_id AND r.lease_until > now()
     WHERE m.user_id = $1
     ORDER BY o.user_id`,
    [userId],
  );
  return rows.map((r) => r.user_id);
}
