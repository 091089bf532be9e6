import { kitErrors } from "../errors/index.ts";
import { redactUrl } from "../registry/redact-url.ts";
import { MemoryCache, type MemoryCacheOptions } from "./memory.ts";
import { RedisCache, type RedisCacheOptions } from "./redis.ts";
import type { Cache } from "./types.ts";
import { checkNamespace } from "./validate.ts";

export { bytesCodec, type Codec, jsonCodec, protoCodec } from "./codec.ts";
export { type InvalidationEvent, type InvalidationRules, type InvalidationTarget, invalidateOn, type SubscribeFn } from "./invalidation.ts";
export { MemoryCache, type MemoryCacheOptions } from "./memory.ts";
export { RedisCache, type RedisCacheOptions } from "./redis.ts";
export { type Cache, type CacheLock, type CacheSetOptions, type CacheStamp, isLockingCache, type LockingCache } from "./types.ts";
export { type CachedOptions, cached, type StampedeOptions } from "./wrap.ts";

/** Options for whichever backend the URL picks; each ignores what it does not use. */
export type CreateCacheOptions = MemoryCacheOptions & Omit<RedisCacheOptions, "url" | "connection">;

/**
 * Resolves the cache from config. Nothing waits for Redis: a service starts
 * while it is down, and `cached` reads from the source until it is back.
 *
 *   createCache("memory", { namespace: "catalog" });
 *   createCache("redis://redis:6379/0", { namespace: "catalog", onError: (e) => log.warn(e) });
 */
export function createCache(url: string, options: CreateCacheOptions): Cache {
  checkNamespace(options.namespace);
  if (url === "memory") return new MemoryCache(options);
  if (url.startsWith("redis://") || url.startsWith("rediss://")) return new RedisCache({ ...options, url });
  throw kitErrors.create("KIT_ERR_UNKNOWN_BACKEND", `no cache backend for "${redactUrl(url)}": expected "memory" or "redis://[user:password@]host:port[/db]"`);
}
