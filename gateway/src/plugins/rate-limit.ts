// Sliding-window rate limits per user, per app key and per IP, with limits per
// class of routes. Counters are shared through Redis by every gateway replica
// (distributed runtime) or kept in this process (embedded).
//
//   plugins: [auth, rateLimit({ settings: () => config.current.rateLimits, redis })]
//
// The IP limit runs first (onRequest), before authentication and body parsing,
// so floods of bad tokens are throttled too; user and app limits run once the
// auth plugin has identified the caller (preHandler). Answers carry the IETF
// draft's `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` of the
// tightest limit; a rejection is a 429 problem with `Retry-After`.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { gatewayErrors } from "../errors.ts";
import type { GatewayPlugin, RouteMeta } from "../types.ts";
import { callerOf } from "./caller.ts";
import { type CountedHit, WindowCounter } from "./rate-limit-counter.ts";
import { decide, type WindowDecision } from "./rate-limit-window.ts";
import { sendProblem } from "./send-problem.ts";
import { serviceNameOf } from "./service-name.ts";

export interface RateLimitRule {
  /** Requests allowed per sliding window. */
  readonly limit: number;
  readonly windowSec: number;
}

/** The limits of one class of routes; a dimension left out (or with limit 0) is not limited. */
export interface RateLimitClass {
  readonly user?: RateLimitRule | undefined;
  readonly app?: RateLimitRule | undefined;
  readonly ip?: RateLimitRule | undefined;
}

export interface RateLimitSettings {
  readonly enabled: boolean;
  readonly classes: Readonly<Record<string, RateLimitClass>>;
  /**
   * Which class a route is in, by operationId (`CatalogService_CreateEvent`) or
   * service name (`catalog`). Unlisted routes: `read` for GET, `write` otherwise,
   * then `default`; a route whose class is not defined is not limited.
   */
  readonly routes: Readonly<Record<string, string>>;
}

// Reads are not limited per IP by default: carrier-grade NAT puts thousands of
// phones behind one address. Writes are (sign-in and token endpoints are writes).
export const defaultRateLimits: RateLimitSettings = {
  enabled: true,
  classes: {
    read: { user: { limit: 600, windowSec: 60 }, app: { limit: 6000, windowSec: 60 }, ip: { limit: 0, windowSec: 60 } },
    write: { user: { limit: 60, windowSec: 60 }, app: { limit: 1200, windowSec: 60 }, ip: { limit: 300, windowSec: 60 } },
    // WebSocket handshakes (`/v1/realtime`), per address, counted before the token is verified.
    realtime: { ip: { limit: 120, windowSec: 60 } },
  },
  routes: {},
};

export interface RateLimitOptions {
  /** Read on every request, so limits change without a restart (config hot reload). */
  readonly settings: () => RateLimitSettings;
  /** Shared counters; absent: counters in this process. */
  readonly redis?: Redis | undefined;
  /** Prefix of the Redis keys. @default "flotilla:rl" */
  readonly keyPrefix?: string;
}

type Dimension = "user" | "app" | "ip";

export function classOf(meta: RouteMeta, settings: RateLimitSettings): string {
  const named = settings.routes[meta.operationId] ?? settings.routes[serviceNameOf(meta)];
  if (named !== undefined) return named;
  const byVerb = meta.verb === "GET" ? "read" : "write";
  return Object.hasOwn(settings.classes, byVerb) ? byVerb : "default";
}

export function rateLimit(options: RateLimitOptions): GatewayPlugin {
  const counterFor = windowCounters(options.keyPrefix ?? "flotilla:rl", options.redis);
  // A route's class, per settings object: recomputed only after a config reload.
  let classesFor: RateLimitSettings | undefined;
  let classes = new WeakMap<RouteMeta, string>();
  const routeClass = (meta: RouteMeta, settings: RateLimitSettings): string => {
    if (classesFor !== settings) {
      classes = new WeakMap();
      classesFor = settings;
    }
    let name = classes.get(meta);
    if (name === undefined) {
      name = classOf(meta, settings);
      classes.set(meta, name);
    }
    return name;
  };

  /**
   * Counts the request against each dimension; false when it was rejected (and
   * answered). Synchronous while the counters are in this process: the hot path
   * then costs no promise per dimension (bench/gateway).
   */
  const check = (request: FastifyRequest, reply: FastifyReply, dimensions: readonly Dimension[]): boolean | Promise<boolean> => {
    const meta = request.routeMeta;
    const settings = options.settings();
    if (meta === null || !settings.enabled) return true;
    const name = routeClass(meta, settings);
    const limits = settings.classes[name];
    if (limits === undefined) return true;
    const caller = callerOf(request);

    /** Applies one dimension's count: its headers when it is the tightest so far, else a 429. */
    const apply = (dimension: Dimension, rule: RateLimitRule, counter: WindowCounter, hit: CountedHit): boolean | Promise<boolean> => {
      const decision = decide(hit, rule.limit, counter.windowMs);
      // The reply carries the headers of the tightest limit so far.
      const seen = reply.getHeader("ratelimit-remaining");
      if (seen === undefined || decision.remaining < Number(seen) || !decision.allowed) reply.headers(headersOf(rule.limit, decision));
      if (decision.allowed) return true;
      const reject = (): false => {
        const retryAfter = String(Math.ceil(decision.retryAfterMs / 1000));
        const error = gatewayErrors.create("GW_ERR_RATE_LIMITED", `too many requests for "${name}" routes from this ${dimension === "ip" ? "address" : dimension}; retry in ${retryAfter} s`);
        sendProblem(request, reply, error, { "retry-after": retryAfter });
        return false;
      };
      const undone = hit.undo();
      return undone instanceof Promise ? undone.then(reject) : reject();
    };

    const from = (first: number): boolean | Promise<boolean> => {
      for (let i = first; i < dimensions.length; i++) {
        const dimension = dimensions[i]!;
        const rule = limits[dimension];
        const id = caller[dimension];
        if (rule === undefined || rule.limit <= 0 || id === undefined) continue;
        const counter = counterFor(rule.windowSec);
        const hit = counter.hit(`${name}:${dimension}:${id}`);
        const allowed = hit instanceof Promise ? hit.then((counted) => apply(dimension, rule, counter, counted)) : apply(dimension, rule, counter, hit);
        if (allowed === false) return false;
        if (allowed !== true) return allowed.then((ok) => (ok ? from(i + 1) : false));
      }
      return true;
    };
    return from(0);
  };

  // Callback-style hooks: with in-process counters the request goes on without
  // a promise; a request answered here (429) stops, as Fastify expects.
  const hook =
    (dimensions: readonly Dimension[]) =>
    (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
      let result: boolean | Promise<boolean>;
      try {
        result = check(request, reply, dimensions);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (result === true) done();
      else if (result !== false) result.then((allowed) => allowed && done(), done);
    };

  return (api) => {
    api.addHook("onRequest", hook(["ip"]));
    api.addHook("preHandler", hook(["user", "app"]));
  };
}

/** The class whose `ip` rule limits WebSocket handshakes. */
export const HANDSHAKE_CLASS = "realtime";

/**
 * Counts a WebSocket handshake from `ip` against the `realtime` class's `ip`
 * rule: undefined when it may go on, else the seconds to wait. A handshake
 * costs the realtime service a signature check and a database read, so a flood
 * of them is cut here, before the gateway verifies the token itself.
 */
export function handshakeLimiter(options: RateLimitOptions): (ip: string) => Promise<{ retryAfterSec: number } | undefined> {
  const counterFor = windowCounters(`${options.keyPrefix ?? "flotilla:rl"}:ws`, options.redis);
  return async (ip) => {
    const settings = options.settings();
    const rule = settings.classes[HANDSHAKE_CLASS]?.ip;
    if (!settings.enabled || rule === undefined || rule.limit <= 0) return undefined;
    const counter = counterFor(rule.windowSec);
    const hit = await counter.hit(`${HANDSHAKE_CLASS}:ip:${ip}`);
    const decision = decide(hit, rule.limit, counter.windowMs);
    if (decision.allowed) return undefined;
    await hit.undo();
    return { retryAfterSec: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)) };
  };
}

/** One counter per window length, made on first use; a changed window in the config gets a new one. */
function windowCounters(prefix: string, redis: Redis | undefined): (windowSec: number) => WindowCounter {
  const counters = new Map<number, WindowCounter>();
  return (windowSec) => {
    let counter = counters.get(windowSec);
    if (counter === undefined) {
      counter = new WindowCounter({ windowSec, keyPrefix: `${prefix}:${windowSec}`, redis });
      counters.set(windowSec, counter);
    }
    return counter;
  };
}

function headersOf(limit: number, decision: WindowDecision): Record<string, string> {
  return {
    "ratelimit-limit": String(limit),
    "ratelimit-remaining": String(decision.remaining),
    "ratelimit-reset": String(Math.ceil((decision.allowed ? decision.resetMs : decision.retryAfterMs) / 1000)),
  };
}
