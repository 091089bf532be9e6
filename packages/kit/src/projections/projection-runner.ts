import type { Database } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import type { EventStore } from "../eventstore/event-store.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { ensureCheckpoint, lockCheckpoint, readCheckpoint, writeCheckpoint } from "./checkpoints.ts";
import type { Projection } from "./define-projection.ts";

export interface ProjectionRunnerOptions {
  /** Holds the read models and their checkpoints (migrated with `projectionMigrations`); often the store's own. */
  readonly db: Database;
  /** Where the events come from; `onAppended`, when present, wakes the runner after a local append. */
  readonly store: Pick<EventStore, "readAll"> & Partial<Pick<EventStore, "onAppended">>;
  readonly projections: readonly Projection[];
  /** Events per transaction (default 100): larger batches, fewer commits. */
  readonly batchSize?: number;
  /** How often start() looks for new events appended elsewhere (default 500 ms). */
  readonly pollIntervalMs?: number;
  /** Where start() reports a failing projection (default: a `projections` logger). */
  readonly log?: Logger;
}

/**
 * Feeds projections from the store's global order. Each batch of events and
 * the checkpoint after it commit in one transaction, so a crash can neither
 * apply an event twice nor skip one. Several replicas may run the same
 * projections: the checkpoint row lock lets one batch through at a time.
 *
 *   const runner = new ProjectionRunner({ db, store, projections: [byCity] });
 *   runner.start();           // follow new events
 *   await runner.rebuild("events-by-city");
 *   await runner.stop();
 */
export class ProjectionRunner {
  readonly #db: Database;
  readonly #store: ProjectionRunnerOptions["store"];
  readonly #projections: ReadonlyMap<string, Projection>;
  readonly #batchSize: number;
  readonly #pollMs: number;
  #log: Logger | undefined;
  readonly #ready = new Set<string>();
  #loop: Promise<void> | undefined;
  #running = false;
  #nudged = false;
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: ProjectionRunnerOptions) {
    this.#db = options.db;
    this.#store = options.store;
    this.#batchSize = options.batchSize ?? 100;
    this.#pollMs = options.pollIntervalMs ?? 500;
    this.#log = options.log;
    if (!Number.isSafeInteger(this.#batchSize) || this.#batchSize < 1) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `batchSize must be an integer ≥ 1, got ${this.#batchSize}`);
    }
    const byName = new Map<string, Projection>();
    for (const p of options.projections) {
      if (byName.has(p.name)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `two projections are named ${p.name}`);
      byName.set(p.name, p);
    }
    this.#projections = byName;
  }

  /**
   * Brings every projection up to the end of the store. Resolves with the
   * number of events each one went through; when one fails, the others
   * still run and the first failure is thrown.
   */
  async runOnce(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const failures: unknown[] = [];
    for (const p of this.#projections.values()) {
      try {
        counts[p.name] = await this.#catchUp(p);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
    return counts;
  }

  /** Follows the store until stop(): polls, and wakes at once after a local append. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#store.onAppended?.(() => this.nudge());
    this.#loop = this.#follow();
  }

  /** Stops following; resolves once the batch in progress has committed or rolled back. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Asks a started runner to look for new events now rather than at its next poll. */
  nudge(): void {
    this.#nudged = true;
    this.#wake?.();
  }

  /**
   * Empties the projection's read model with its `reset`, sets its checkpoint
   * to 0 in the same transaction and replays every event. Readers see the
   * read model fill up again while it replays.
   */
  async rebuild(name: string): Promise<number> {
    const p = this.#projections.get(name);
    if (p === undefined) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `no projection named ${name}`);
    const reset = p.reset;
    if (reset === undefined) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `projection ${name} has no reset, so it cannot be rebuilt`);
    await this.#ensure(p.name);
    await this.#db.transaction(async (tx) => {
      await lockCheckpoint(tx, name);
      await reset(tx);
      await writeCheckpoint(tx, name, 0);
    });
    return this.#catchUp(p);
  }

  /** The last global position the projection applied (0 before its first event). */
  async position(name: string): Promise<number> {
    return readCheckpoint(this.#db, name);
  }

  async #catchUp(p: Projection): Promise<number> {
    await this.#ensure(p.name);
    const types = p.types === undefined ? undefined : new Set(p.types);
    let position = await readCheckpoint(this.#db, p.name);
    let count = 0;
    for (;;) {
      const events = await this.#store.readAll({ fromPosition: position + 1, limit: this.#batchSize });
      const last = events.at(-1);
      if (last === undefined) return count;
      const from = position;
      const applied = await this.#db.transaction(async (tx) => {
        position = await lockCheckpoint(tx, p.name);
        // Another runner (or a rebuild) moved it while we read: this batch is stale.
        if (position !== from) return false;
        for (const event of events) if (types === undefined || types.has(event.type)) await p.handle(event, tx);
        await writeCheckpoint(tx, p.name, last.globalPosition);
        return true;
      });
      if (applied) {
        position = last.globalPosition;
        count += events.length;
      }
    }
  }

  async #ensure(name: string): Promise<void> {
    if (this.#ready.has(name)) return;
    await ensureCheckpoint(this.#db, name);
    this.#ready.add(name);
  }

  async #follow(): Promise<void> {
    while (this.#running) {
      for (const p of this.#projections.values()) {
        if (!this.#running) break;
        try {
          await this.#catchUp(p);
        } catch (error) {
          // The batch rolled back; the next round tries it again.
          this.#logger().error({ err: error, projection: p.name }, "projection failed; retrying at the next poll");
        }
      }
      await this.#idle();
    }
  }

  #idle(): Promise<void> {
    if (this.#nudged || !this.#running) {
      this.#nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#nudged = false;
        resolve();
      };
      const timer = setTimeout(done, this.#pollMs);
      this.#wake = done;
    });
  }

  #logger(): Logger {
    this.#log ??= createLogger("projections");
    return this.#log;
  }
}
