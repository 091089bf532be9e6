import { setTimeout as sleep } from "node:timers/promises";
import { type Codec, jsonCodec } from "./codec.ts";
import { type Cache, isLockingCache, type LockingCache } from "./types.ts";

export interface StampedeOptions {
  /** How long the loading replica holds the lock; it expires by itself if that replica dies. @default 2000 */
  lockMs?: number;
  /** How long other replicas wait for the value before loading it themselves. @default 2 × lockMs */
  waitMs?: number;
  /** How often a waiting replica looks for the value (or a free lock). @default 25 */
  pollMs?: number;
}

export interface CachedOptions<T> {
  /** Positive integer, in milliseconds. */
  ttlMs: number;
  /** Tags to invalidate the value by, e.g. `["catalog:events"]`. */
  tags?: readonly string[];
  /** @default jsonCodec() */
  codec?: Codec<T>;
  /** Cache failures and undecodable entries; the value is loaded from the source instead. */
  onError?: (error: unknown) => void;
  /**
   * On a cache shared by replicas (Redis), elects one replica to load a missing
   * key while the others wait for it. `false` lets each replica load on its own.
   */
  stampede?: StampedeOptions | false;
}

// In-flight reads per cache and key. Keyed by the cache object, so two caches
// never share a flight and nothing outlives its cache.
const flights = new WeakMap<Cache, Map<string, Promise<unknown>>>();

/**
 * Read-through: returns the cached value of `key`, or calls `load`, caches and
 * returns its result.
 *
 *   const events = await cached(cache, "events:list", { ttlMs: 30_000, tags: ["catalog:events"] }, () => listEvents(db));
 *
 * Concurrent calls for the same key in this process share one cache read and at
 * most one `load` (single-flight): they all get the same value — treat it as
 * read-only — or the same error. They must agree on the codec. A failing cache
 * never fails the call: the error goes to `onError` and `load` answers. A
 * value whose key or tags were invalidated while it loaded is returned but not
 * cached. A `load` that throws is not cached either.
 */
export function cached<T>(cache: Cache, key: string, options: CachedOptions<T>, load: () => Promise<T>): Promise<T> {
  let inFlight = flights.get(cache);
  if (inFlight === undefined) {
    inFlight = new Map();
    flights.set(cache, inFlight);
  }
  const pending = inFlight.get(key);
  if (pending !== undefined) return pending as Promise<T>;
  const table = inFlight;
  const flight = readThrough(cache, key, options, load).finally(() => table.delete(key));
  table.set(key, flight);
  return flight;
}

const FAILED = Symbol("failed");
type Read<T> = { hit: true; value: T } | { hit: false };
const MISS = { hit: false } as const;

async function readThrough<T>(cache: Cache, key: string, options: CachedOptions<T>, load: () => Promise<T>): Promise<T> {
  const flight = new Flight(cache, key, options, load);
  const first = await flight.read();
  if (first === FAILED) return load();
  if (first.hit) return first.value;
  if (!isLockingCache(cache) || options.stampede === false) return flight.loadAndStore();
  return flight.electLoader(cache, options.stampede ?? {});
}

/** One read-through of one key; every cache failure in it is reported and then ignored. */
class Flight<T> {
  readonly #cache: Cache;
  readonly #key: string;
  readonly #options: CachedOptions<T>;
  readonly #codec: Codec<T>;
  readonly #load: () => Promise<T>;

  constructor(cache: Cache, key: string, options: CachedOptions<T>, load: () => Promise<T>) {
    this.#cache = cache;
    this.#key = key;
    this.#options = options;
    this.#codec = options.codec ?? jsonCodec<T>();
    this.#load = load;
  }

  async read(): Promise<Read<T> | typeof FAILED> {
    const bytes = await this.#attempt(() => this.#cache.get(this.#key));
    if (bytes === FAILED) return FAILED;
    if (bytes === undefined) return MISS;
    try {
      return { hit: true, value: this.#codec.decode(bytes) };
    } catch (error) {
      this.#report(error);
      return MISS;
    }
  }

  /** The stamp is taken before the load, so a delete or invalidation during it wins. */
  async loadAndStore(): Promise<T> {
    const { ttlMs, tags } = this.#options;
    const stamp = await this.#attempt(() => this.#cache.stamp(this.#key, tags));
    const value = await this.#load();
    if (stamp !== FAILED) await this.#attempt(() => this.#cache.set(this.#key, this.#codec.encode(value), { ttlMs, tags, stamp }));
    return value;
  }

  /**
   * The cross-replica stampede guard: the replica that gets the lock loads; the
   * others poll the cache until the value appears, take the lock over if its
   * holder died (it expires), and after `waitMs` load on their own, so a waiter
   * is never stuck behind a slow or dead holder.
   */
  async electLoader(cache: LockingCache, options: StampedeOptions): Promise<T> {
    const lockMs = options.lockMs ?? 2000;
    const deadline = Date.now() + (options.waitMs ?? 2 * lockMs);
    const pollMs = options.pollMs ?? 25;
    for (;;) {
      const lock = await this.#attempt(() => cache.lock(this.#key, lockMs));
      if (lock === FAILED) return this.#load();
      if (lock !== undefined) {
        try {
          // The previous holder may have stored the value between our miss and our lock.
          const again = await this.read();
          if (again === FAILED) return await this.#load();
          if (again.hit) return again.value;
          return await this.loadAndStore();
        } finally {
          await this.#attempt(() => lock.release());
        }
      }
      if (Date.now() >= deadline) return this.loadAndStore();
      await sleep(pollMs);
      const polled = await this.read();
      if (polled === FAILED) return this.#load();
      if (polled.hit) return polled.value;
    }
  }

  async #attempt<R>(operation: () => Promise<R>): Promise<R | typeof FAILED> {
    try {
      return await operation();
    } catch (error) {
      this.#report(error);
      return FAILED;
    }
  }

  #report(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // A broken error hook must not fail the read either.
    }
  }
}
