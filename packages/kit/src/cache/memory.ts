import { LRUCache } from "lru-cache";
import { kitErrors } from "../errors/index.ts";
import type { Cache, CacheSetOptions, CacheStamp } from "./types.ts";
import { checkTtl } from "./validate.ts";

export interface MemoryCacheOptions {
  /** Entries kept before the least recently used one is evicted. @default 10_000 */
  maxEntries?: number;
  /** Deletions and tag invalidations remembered (see below). @default 10_000 */
  maxInvalidations?: number;
}

interface Entry {
  readonly value: Uint8Array;
  readonly tags: readonly string[];
  /** The logical time the value's load started (its stamp). */
  readonly since: number;
}

// Deleted keys and invalidated tags share one map, told apart by a prefix.
const keyMark = (key: string): string => `k\0${key}`;
const tagMark = (tag: string): string => `t\0${tag}`;

/**
 * The in-process cache (embedded mode and tests): an LRU with per-entry TTLs.
 *
 * Invalidation runs on a logical clock. Deleting a key or invalidating a tag
 * records the tick it happened at; an entry is valid while none of its tags was
 * invalidated after the tick its load started at, and `set` refuses a value
 * whose key or tags were invalidated after its stamp. The record is itself an
 * LRU: when one is evicted, its tick raises `floor`, which then stands in for
 * every forgotten record — older entries with tags are dropped rather than
 * served stale.
 */
export class MemoryCache implements Cache {
  readonly #entries: LRUCache<string, Entry>;
  readonly #invalidated: LRUCache<string, number>;
  #clock = 0;
  #floor = 0;
  #closed = false;

  constructor(options: MemoryCacheOptions = {}) {
    this.#entries = new LRUCache<string, Entry>({ max: options.maxEntries ?? 10_000 });
    this.#invalidated = new LRUCache<string, number>({
      max: options.maxInvalidations ?? 10_000,
      dispose: (tick, _mark, reason) => {
        if (reason === "evict") this.#floor = Math.max(this.#floor, tick);
      },
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.tags.some((tag) => this.#lastInvalidated(tagMark(tag)) > entry.since)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value.slice();
  }

  async set(key: string, value: Uint8Array, options: CacheSetOptions): Promise<boolean> {
    this.#checkOpen();
    const ttl = checkTtl(options.ttlMs);
    const tags = [...new Set(options.tags ?? [])];
    const since = options.stamp === undefined ? this.#clock : (options.stamp as unknown as number);
    const marks = [keyMark(key), ...tags.map(tagMark)];
    if (marks.some((mark) => this.#lastInvalidated(mark) > since)) return false;
    this.#entries.set(key, { value: value.slice(), tags, since }, { ttl });
    return true;
  }

  async stamp(_key: string, _tags?: readonly string[]): Promise<CacheStamp> {
    this.#checkOpen();
    return this.#clock as unknown as CacheStamp;
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.#checkOpen();
    const tick = ++this.#clock;
    for (const key of keys) {
      this.#entries.delete(key);
      this.#invalidated.set(keyMark(key), tick);
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.#checkOpen();
    const tick = ++this.#clock;
    for (const tag of tags) this.#invalidated.set(tagMark(tag), tick);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    this.#invalidated.clear();
  }

  #lastInvalidated(mark: string): number {
    return this.#invalidated.get(mark) ?? this.#floor;
  }

  #checkOpen(): void {
    if (this.#closed) throw kitErrors.create("KIT_ERR_CACHE_UNAVAILABLE", "the memory cache is closed");
  }
}
