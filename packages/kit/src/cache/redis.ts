import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { type FlotillaError, kitErrors } from "../errors/index.ts";
import { redactUrl } from "../registry/redact-url.ts";
import { type CacheScripts, withCacheScripts } from "./redis-scripts.ts";
import type { CacheLock, CacheSetOptions, CacheStamp, LockingCache } from "./types.ts";
import { checkNamespace, checkTtl } from "./validate.ts";

export interface RedisCacheOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`; ignored when `connection` is given. */
  url?: string;
  /** An existing connection to use; it is left open by `close()`. */
  connection?: Redis;
  /** Prefix of every key, one per service, so services can share a Redis. */
  namespace: string;
  /** A command that takes longer fails (and `cached` loads from the source instead). @default 500 */
  commandTimeoutMs?: number;
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** How long a tag's version outlives its last use; at least the longest TTL of an entry carrying it. @default 86_400_000 */
  tagTtlMs?: number;
  /** How long a deleted key remembers its deletion, to refuse a value loaded before it (keep above the longest load). @default 60_000 */
  tombstoneMs?: number;
  /** Connection errors, reported once per outage (commands reject on their own). */
  onError?: (error: FlotillaError) => void;
}

interface Stamp {
  readonly generation: string;
  readonly versions: ReadonlyMap<string, string>;
}

/**
 * The shared cache for distributed mode. Keys, under the service's namespace:
 *
 *   <ns>:e:<key>  the entry, a hash (value, delete generation, tag versions; see redis-scripts.ts)
 *   <ns>:t:<tag>  the tag's current version
 *   <ns>:l:<key>  the stampede lock of a key being loaded
 *
 * Tags work by version, not by listing their keys: an entry records the version
 * of each of its tags when its load started, and a read serves it only if all
 * of them are still current. Invalidating a tag is one DEL of its version key —
 * O(1) however many entries carry it, atomic, and seen at once by every replica;
 * the next stamp mints a new version. Versions are random tokens rather than an
 * INCR counter because a counter whose key is evicted or expires restarts at 1
 * and could match an old entry again; a random token never comes back.
 * Deleting a key leaves a short tombstone whose generation the `set` of an
 * in-flight load compares with its stamp, so the old value is not written back.
 */
export class RedisCache implements LockingCache {
  readonly #client: Redis & CacheScripts;
  readonly #owned: boolean;
  readonly #ns: string;
  readonly #where: string;
  readonly #tagTtlMs: number;
  readonly #tombstoneMs: number;
  #closed = false;

  constructor(options: RedisCacheOptions) {
    this.#ns = checkNamespace(options.namespace);
    this.#tagTtlMs = options.tagTtlMs ?? 86_400_000;
    this.#tombstoneMs = options.tombstoneMs ?? 60_000;
    this.#owned = options.connection === undefined;
    this.#where = options.connection === undefined ? redactUrl(options.url ?? "redis://127.0.0.1:6379") : "redis";
    this.#client = withCacheScripts(options.connection ?? this.#connect(options));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = await this.#run(() => this.#client.flotillaCacheGetBuffer(this.#entryKey(key), `${this.#ns}:t:`));
    // A copy: the reply may be a view into the client's reusable read buffer.
    return value === null ? undefined : new Uint8Array(value);
  }

  async set(key: string, value: Uint8Array, options: CacheSetOptions): Promise<boolean> {
    const ttl = checkTtl(options.ttlMs);
    const tags = [...new Set(options.tags ?? [])];
    const stamp = options.stamp as Stamp | undefined;
    const args: (string | Buffer | number)[] = [this.#entryKey(key), ...tags.map((t) => this.#tagKey(t))];
    args.push(stamp?.generation ?? "*", ttl, Buffer.from(value.buffer, value.byteOffset, value.byteLength), this.#tagTtlMs, randomUUID());
    for (const tag of tags) args.push(tag, stamp?.versions.get(tag) ?? "*");
    const stored = await this.#run(() => this.#client.flotillaCacheSet(1 + tags.length, ...args));
    return stored === 1;
  }

  async stamp(key: string, tags: readonly string[] = []): Promise<CacheStamp> {
    const unique = [...new Set(tags)];
    const keys = [this.#entryKey(key), ...unique.map((t) => this.#tagKey(t))];
    const [generation = "", ...versions] = await this.#run(() => this.#client.flotillaCacheStamp(keys.length, ...keys, randomUUID(), this.#tagTtlMs));
    const stamp: Stamp = { generation, versions: new Map(unique.map((tag, i) => [tag, versions[i] ?? ""])) };
    return stamp as unknown as CacheStamp;
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const multi = this.#client.multi();
    for (const key of keys) {
      const entry = this.#entryKey(key);
      multi.del(entry).hset(entry, "g", randomUUID()).pexpire(entry, this.#tombstoneMs);
    }
    const results = await this.#run(() => multi.exec());
    const failed = results?.find(([error]) => error !== null);
    if (failed !== undefined) throw this.#unavailable(failed[0]);
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    await this.#run(() => this.#client.del(...tags.map((t) => this.#tagKey(t))));
  }

  async lock(key: string, ttlMs: number): Promise<CacheLock | undefined> {
    const lockKey = `${this.#ns}:l:${key}`;
    const token = randomUUID();
    const px = checkTtl(ttlMs);
    const ok = await this.#run(() => this.#client.set(lockKey, token, "PX", px, "NX"));
    if (ok !== "OK") return undefined;
    return { release: async () => void (await this.#run(() => this.#client.flotillaCacheUnlock(lockKey, token))) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    if (this.#client.status === "ready") await this.#client.quit().catch(() => this.#client.disconnect());
    else this.#client.disconnect();
  }

  #connect(options: RedisCacheOptions): Redis {
    const client = new Redis(options.url ?? "redis://127.0.0.1:6379", {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 500,
      // A cache miss is cheaper than a request stuck behind a reconnect: commands
      // fail after one retry and the caller loads from the source meanwhile.
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    let healthy = true;
    client.on("ready", () => {
      healthy = true;
    });
    client.on("error", (error: unknown) => {
      if (!healthy) return;
      healthy = false;
      options.onError?.(this.#unavailable(error));
    });
    return client;
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw kitErrors.create("KIT_ERR_CACHE_UNAVAILABLE", `the cache on ${this.#where} is closed`);
    try {
      return await command();
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  #unavailable(error: unknown): FlotillaError {
    const reason = error instanceof Error ? error.message : String(error);
    return kitErrors.create("KIT_ERR_CACHE_UNAVAILABLE", `cache on ${this.#where}: ${reason}`, { cause: error });
  }

  #entryKey(key: string): string {
    return `${this.#ns}:e:${key}`;
  }

  #tagKey(tag: string): string {
    return `${this.#ns}:t:${tag}`;
  }
}
