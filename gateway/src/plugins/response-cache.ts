// Response cache for GET routes the contract marks cacheable
// (`(flotilla.options.v1.cache) = {ttl_seconds, per_user}`), on the kit cache:
// an LRU in the embedded runtime, Redis shared by replicas in the distributed one.
//
//   const responses = responseCache({ cache: createCache(url, { namespace: "gateway" }), settings: () => config.current.cache });
//   plugins: [auth, rateLimit(...), responses.plugin, breaker({ stale: responses.stale })]
//   await invalidateOn(cache, subscribe, cacheInvalidationRules(settings))   // events → hide entries
//
// Fresh entries are answered with `ETag`, `Cache-Control` and `Age`, and `304`
// for a matching `If-None-Match`. Entries are kept `staleSec` past their TTL,
// invisible to normal reads, for the breaker to serve while the service is
// down (stale-if-error, RFC 5861). An event of the service hides every entry of
// its routes at once (a tag per service), on every replica.
import { createHash } from "node:crypto";
import type { Cache, CacheStamp, InvalidationRules } from "@flotilla/kit/internal";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { GatewayPlugin, RouteMeta } from "../types.ts";
import { callerKey, callerOf } from "./caller.ts";
import { serviceNameOf } from "./service-name.ts";

export interface ResponseCacheSettings {
  readonly enabled: boolean;
  /** How long past its TTL an entry is kept for stale-if-error. @default 300 */
  readonly staleSec: number;
  /** Event type → services whose cached responses it invalidates. */
  readonly invalidateOn: Readonly<Record<string, readonly string[]>>;
}

export const defaultResponseCache: ResponseCacheSettings = {
  enabled: true,
  staleSec: 300,
  invalidateOn: { "catalog.event_published.v1": ["catalog"] },
};

export interface ResponseCacheOptions {
  readonly cache: Cache;
  readonly settings?: () => ResponseCacheSettings;
  /** Metadata key of the canary's chosen version: responses of two versions are cached apart. */
  readonly versionKey?: string;
  /** For tests: the clock that decides freshness. @default Date.now */
  readonly now?: () => number;
}

/** What the cache keeps of a response. */
interface Entry {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly etag: string;
  /** Epoch ms it was stored at; fresh until `storedAt + ttlSec`. */
  readonly storedAt: number;
  readonly ttlSec: number;
}

interface Pending {
  readonly key: string;
  readonly stamp: CacheStamp | undefined;
  readonly meta: RouteMeta;
}

export interface ResponseCache {
  readonly plugin: GatewayPlugin;
  /** Answers `request` from its cached response, fresh or stale; false when there is none. */
  stale(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
}

const tagOf = (service: string) => `gw:${service}`;

/** The kit's `invalidateOn` rules for the configured events: each hides the responses of its services. */
export function cacheInvalidationRules(settings: ResponseCacheSettings): InvalidationRules {
  const rules: Record<string, () => readonly `tag:${string}`[]> = {};
  for (const [type, services] of Object.entries(settings.invalidateOn)) {
    const targets = services.map((s) => `tag:${tagOf(s)}` as const);
    rules[type] = () => targets;
  }
  return rules;
}

export function responseCache(options: ResponseCacheOptions): ResponseCache {
  const { cache } = options;
  const settings = options.settings ?? (() => defaultResponseCache);
  const pending = new WeakMap<FastifyRequest, Pending>();
  const now = options.now ?? Date.now;

  const cacheable = (request: FastifyRequest): RouteMeta | undefined => {
    const meta = request.routeMeta ?? undefined;
    if (meta === undefined || request.method !== "GET" || !meta.cache || meta.cache.ttlSeconds <= 0) return undefined;
    return settings().enabled ? meta : undefined;
  };

  const keyOf = (request: FastifyRequest, meta: RouteMeta): string => {
    const parts = [meta.operationId, request.url];
    if (meta.cache?.perUser) parts.push(callerKey(callerOf(request)));
    const version = options.versionKey === undefined ? undefined : request.callMetadata[options.versionKey];
    if (version !== undefined) parts.push(`v=${version}`);
    return `resp:${sha256(parts.join("\n"))}`;
  };

  const read = async (request: FastifyRequest, key: string): Promise<Entry | undefined> => {
    try {
      const bytes = await cache.get(key);
      return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString("utf8")) as Entry);
    } catch (error) {
      // A cache outage costs a call to the service, never the request.
      request.log.warn({ err: error }, "response cache read failed");
      return undefined;
    }
  };

  const answer = (request: FastifyRequest, reply: FastifyReply, entry: Entry, meta: RouteMeta, state: "HIT" | "STALE"): void => {
    const age = Math.max(0, Math.floor((now() - entry.storedAt) / 1000));
    const maxAge = state === "HIT" ? Math.max(0, entry.ttlSec - age) : 0;
    reply.headers({ etag: entry.etag, "cache-control": cacheControl(meta, maxAge), age: String(age), "x-cache": state });
    if (state === "HIT" && matches(request.headers["if-none-match"], entry.etag)) {
      reply.code(304).send();
      return;
    }
    reply.code(entry.status).type(entry.contentType).send(entry.body);
  };

  /** A cacheable GET: answers from the cache (true) or notes the miss for onSend. */
  const lookUp = async (request: FastifyRequest, reply: FastifyReply, meta: RouteMeta): Promise<boolean> => {
    const key = keyOf(request, meta);
    const entry = await read(request, key);
    if (entry !== undefined && now() < entry.storedAt + entry.ttlSec * 1000) {
      answer(request, reply, entry, meta, "HIT");
      return true;
    }
    // Taken before the call: an invalidation while it runs keeps its answer out of the cache.
    const stamp = await cache.stamp(key, [tagOf(serviceNameOf(meta))]).catch(() => undefined);
    pending.set(request, { key, stamp, meta });
    return false;
  };

  const keep = async (request: FastifyRequest, reply: FastifyReply, payload: unknown, miss: Pending): Promise<unknown> => {
    if (reply.statusCode !== 200 || typeof payload !== "string") return payload;
    if (String(reply.getHeader("cache-control") ?? "").includes("no-store")) return payload;
    const { meta, key, stamp } = miss;
    const ttlSec = meta.cache?.ttlSeconds ?? 0;
    const entry: Entry = {
      status: 200,
      contentType: String(reply.getHeader("content-type") ?? "application/json; charset=utf-8"),
      body: payload,
      etag: `"${sha256(payload).slice(0, 27)}"`,
      storedAt: now(),
      ttlSec,
    };
    const ttlMs = (ttlSec + settings().staleSec) * 1000;
    try {
      await cache.set(key, Buffer.from(JSON.stringify(entry)), { ttlMs, tags: [tagOf(serviceNameOf(meta))], ...(stamp ? { stamp } : {}) });
    } catch (error) {
      request.log.warn({ err: error }, "response cache write failed");
    }
    reply.headers({ etag: entry.etag, "cache-control": cacheControl(meta, ttlSec), "x-cache": "MISS" });
    if (matches(request.headers["if-none-match"], entry.etag)) {
      reply.code(304);
      return "";
    }
    return payload;
  };

  // Callback-style hooks: routes and requests the cache does not concern (most of them)
  // go on at once, with no promise; a hit is answered here and the request stops.
  const plugin: GatewayPlugin = (api) => {
    api.addHook("preHandler", (request, reply, done) => {
      const meta = cacheable(request);
      if (meta === undefined) return done();
      lookUp(request, reply, meta).then((answered) => {
        if (!answered) done();
      }, done);
    });

    api.addHook("onSend", (request, reply, payload, done) => {
      const miss = pending.get(request);
      if (miss === undefined) return done(null, payload);
      pending.delete(request);
      keep(request, reply, payload, miss).then((out) => done(null, out), done);
    });
  };

  return {
    plugin,
    async stale(request, reply) {
      const meta = cacheable(request);
      if (meta === undefined) return false;
      // Not the service's answer: not to be stored again as a fresh one.
      pending.delete(request);
      const entry = await read(request, keyOf(request, meta));
      if (entry === undefined) return false;
      answer(request, reply, entry, meta, "STALE");
      return true;
    },
  };
}

function cacheControl(meta: RouteMeta, maxAge: number): string {
  // Per-user answers must not sit in shared caches (CDNs, proxies).
  return `${meta.cache?.perUser ? "private" : "public"}, max-age=${maxAge}`;
}

/** `If-None-Match` holds `etag` (or `*`); weak comparison, as RFC 9110 asks for GET. */
function matches(header: string | string[] | undefined, etag: string): boolean {
  if (typeof header !== "string") return false;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || tag.replace(/^W\//, "") === bare;
  });
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}
