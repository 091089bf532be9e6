// The traffic plugins wired as both runtimes use them: rate limits, canary
// routing, response cache, idempotency keys and breaker fallbacks. With
// `redis.url` set (distributed runtime) gateway replicas share counters, keys
// and cached responses in Redis; without it (embedded) all stay in-process.
//
//   const traffic = trafficPlugins({ config: () => source.current(), subscribe, log });
//   plugins.push(edge, traffic.rateLimit, auth, ...traffic.plugins, compression);   app.addHook("onClose", traffic.close);
//
// `rateLimit` goes before auth: its per-IP limit (onRequest) then also throttles
// floods of bad tokens, while its per-user and per-app limits run after auth
// (preHandler). The others go after auth (they key by caller) and before
// compression (they store and replay uncompressed bodies).
import type { Logger } from "@flotilla/kit";
import { createCache, invalidateOn, ROUTE_VERSION_KEY, type SubscribeFn } from "@flotilla/kit/internal";
import { Redis } from "ioredis";
import type { GatewayConfig } from "../config.ts";
import type { GatewayPlugin } from "../types.ts";
import { breaker } from "./breaker.ts";
import { canary } from "./canary.ts";
import { idempotency } from "./idempotency.ts";
import { MemoryIdempotencyStore } from "./idempotency-store-memory.ts";
import { RedisIdempotencyStore } from "./idempotency-store-redis.ts";
import { handshakeLimiter, rateLimit } from "./rate-limit.ts";
import { cacheInvalidationRules, responseCache } from "./response-cache.ts";

export interface TrafficOptions {
  /** Read per request: the hot-reloadable sections apply at once. */
  readonly config: () => GatewayConfig;
  /** Event subscriptions (from the bus) that invalidate cached responses; without it entries live out their TTL. */
  readonly subscribe?: SubscribeFn | undefined;
  readonly log: Pick<Logger, "warn" | "error">;
  /** Prefix of everything this gateway keeps in Redis; gateways that share it share state. @default "gateway" */
  readonly namespace?: string;
}

export interface Traffic {
  readonly rateLimit: GatewayPlugin;
  /** For `mountRealtime({ admit })`: WebSocket handshakes per address (the `realtime` class), counters as `rateLimit`'s. */
  readonly admitHandshake: (ip: string) => Promise<{ retryAfterSec: number } | undefined>;
  /** Canary, response cache, idempotency, breaker — in this order. */
  readonly plugins: readonly GatewayPlugin[];
  close(): Promise<void>;
}

export function trafficPlugins(options: TrafficOptions): Traffic {
  const { config, log } = options;
  const url = config().redis.url;
  const namespace = options.namespace ?? "gateway";
  // Fail fast rather than queue while Redis is away: the limiter falls back to memory, the cache to the service.
  const redis = url === "" ? undefined : new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis?.on("error", (error: Error) => log.warn({ err: error.message }, "gateway redis error"));
  const cache = createCache(url === "" ? "memory" : url, { namespace });
  const responses = responseCache({ cache, settings: () => config().responseCache, versionKey: ROUTE_VERSION_KEY });
  const store = redis === undefined ? new MemoryIdempotencyStore() : new RedisIdempotencyStore({ redis, keyPrefix: `flotilla:${namespace}:idem:` });
  let invalidation: Promise<{ stop(): Promise<void> } | undefined> | undefined;
  if (options.subscribe !== undefined) {
    invalidation = invalidateOn(cache, options.subscribe, cacheInvalidationRules(config().responseCache)).catch((error: unknown) => {
      log.error({ err: error }, "cached responses will not be invalidated by events");
      return undefined;
    });
  }
  return {
    rateLimit: rateLimit({ settings: () => config().rateLimits, redis, keyPrefix: `flotilla:${namespace}:rl` }),
    admitHandshake: handshakeLimiter({ settings: () => config().rateLimits, redis, keyPrefix: `flotilla:${namespace}:rl` }),
    plugins: [
      canary({ settings: () => config().canary }),
      responses.plugin,
      idempotency({ store, settings: () => config().idempotency }),
      breaker({ settings: () => config().breaker, stale: responses.stale }),
    ],
    close: async () => {
      await (await invalidation)?.stop();
      await store.close();
      await cache.close();
      redis?.disconnect();
    },
  };
}
