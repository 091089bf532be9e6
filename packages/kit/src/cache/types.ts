declare const stampBrand: unique symbol;

/**
 * What `Cache.stamp` returns and `Cache.set` accepts: a snapshot of the key's
 * and its tags' invalidation state taken before a value is loaded. Opaque; only
 * the cache that made it understands it.
 */
export type CacheStamp = { readonly [stampBrand]: true };

export interface CacheSetOptions {
  /** How long the entry lives, in milliseconds (a positive integer). */
  readonly ttlMs: number;
  /** Invalidating any of these tags hides the entry, e.g. `catalog:events`. */
  readonly tags?: readonly string[];
  /**
   * From `stamp(key, tags)` taken before the value was loaded: if the key was
   * deleted or a tag invalidated since, the value may be stale and is not
   * stored. Without it the value is stored unconditionally.
   */
  readonly stamp?: CacheStamp;
}

/**
 * A byte cache with TTLs, tags and per-service namespaces. Implementations side
 * by side: `memory` (an LRU in this process) and `redis` (shared by replicas).
 * Resolve one with `createCache`; read through it with `cached` (./wrap.ts),
 * which adds single-flight, a codec and fallback to the source on failure.
 * Every method rejects with `KIT_ERR_CACHE_UNAVAILABLE` when the backend fails.
 */
export interface Cache {
  get(key: string): Promise<Uint8Array | undefined>;
  /** Resolves `false` when the value was not stored because its stamp is out of date. */
  set(key: string, value: Uint8Array, options: CacheSetOptions): Promise<boolean>;
  /**
   * Takes the snapshot to pass to `set` after loading, so that a delete or an
   * invalidation racing with the load is not overwritten by the old value.
   */
  stamp(key: string, tags?: readonly string[]): Promise<CacheStamp>;
  delete(keys: readonly string[]): Promise<void>;
  /** Hides every entry carrying any of these tags, at once and on every replica. */
  invalidateTags(tags: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A held cross-replica lock; it also expires by itself if the holder dies. */
export interface CacheLock {
  release(): Promise<void>;
}

/**
 * A cache shared by several processes (Redis) that can elect one of them to
 * load a missing key, so a stampede across replicas makes about one upstream call.
 */
export interface LockingCache extends Cache {
  /** Resolves `undefined` when another holder has the lock. */
  lock(key: string, ttlMs: number): Promise<CacheLock | undefined>;
}

export function isLockingCache(cache: Cache): cache is LockingCache {
  return typeof (cache as Partial<LockingCache>).lock === "function";
}
