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
import { WindowCounter } from "./rate-limit-counter.ts";
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

interface Tightest {
  limit: number;
  decision: WindowDecision;
}

export function classOf(meta: RouteMeta, settings: RateLimitSettings): string {
  const named = settings.routes[meta.operationId] ?? settings.routes[serviceNameOf(meta)];
  if (named !== undefined) return named;
  const byVerb = meta.verb === "GET" ? "read" : "write";
  return Object.hasOwn(settings.classes, byVerb) ? byVerb : "default";
}

export function rateLimit(options: RateLimitOptions): GatewayPlugin {
  const prefix = options.keyPrefix ?? "flotilla:rl";
  // One counter per window length; a changed window in the config gets a new one.
  const counters = new Map<number, WindowCounter>();
  const counterFor = (windowSec: number): WindowCounter => {
    let counter = counters.get(windowSec);
    if (counter === undefined) {
      counter = new WindowCounter({ windowSec, keyPrefix: `${prefix}:${windowSec}`, redis: options.redis });
      counters.set(windowSec, counter);
    }
    return counter;
  };
  const tightest = new WeakMap<FastifyRequest, Tightest>();
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

  /** Counts the request against each dimension; false when it was rejected (and answered). */
  const check = async (request: FastifyRequest, reply: FastifyReply, dimensions: readonly Dimension[]): Promise<boolean> => {
    const meta = request.routeOptions.config.flotilla;
    const settings = options.settings();
    if (meta === undefined || !settings.enabled) return true;
    const name = routeClass(meta, settings);
    const limits = settings.classes[name];
    if (limits === undefined) return true;
    const caller = callerOf(request);
    for (const dimension of dimensions) {
      const rule = limits[dimension];
      const id = caller[dimension];
      if (rule === undefined || rule.limit <= 0 || id === undefined) continue;
      const counter = counterFor(rule.windowSec);
      const hit = await counter.hit(`${name}:${dimension}:${id}`);
      const decision = decide(hit, rule.limit, counter.windowMs);
      const seen = tightest.get(request);
      if (seen === undefined || decision.remaining < seen.decision.remaining || !decision.allowed) {
        tightest.set(request, { limit: rule.limit, decision });
        reply.headers(headersOf(rule.limit, decision));
      }
      if (!decision.allowed) {
        await hit.undo();
        const retryAfter = String(Math.ceil(decision.retryAfterMs / 1000));
        const error = gatewayErrors.create("GW_ERR_RATE_LIMITED", `too many requests for "${name}" routes from this ${dimension === "ip" ? "address" : dimension}; retry in ${retryAfter} s`);
        sendProblem(request, reply, error, { "retry-after": retryAfter });
        return false;
      }
    }
    return true;
  };

  return (api) => {
    api.addHook("onRequest", async (request, reply) => {
      if (!(await check(request, reply, ["ip"]))) return reply;
    });
    api.addHook("preHandler", async (request, reply) => {
      if (!(await check(request, reply, ["user", "app"]))) return reply;
    });
  };
}

function headersOf(limit: number, decision: WindowDecision): Record<string, string> {
  return {
    "ratelimit-limit": String(limit),
    "ratelimit-remaining": String(decision.remaining),
    "ratelimit-reset": String(Math.ceil((decision.allowed ? decision.resetMs : decision.retryAfterMs) / 1000)),
  };
}
