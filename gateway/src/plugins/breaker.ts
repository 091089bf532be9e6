// What a route answers while its service is down. The kit client already runs
// a cockatiel circuit breaker per upstream and fails fast with
// KIT_ERR_CIRCUIT_OPEN while it is open; this plugin does not stack a second
// breaker, it reads that signal (and its kin: no live instance, unreachable,
// timed out) and answers, in order of preference:
//   1. the cached response, even past its TTL (stale-if-error, RFC 5861);
//   2. the route's declared fallback (config, by operationId);
//   3. a 503 problem with `Retry-After` — at once, never a hanging request.
//
//   plugins: [..., responses.plugin, breaker({ settings: () => config.current.breaker, stale: responses.stale })]
import { FlotillaError } from "@flotilla/kit";
import type { FastifyReply, FastifyRequest } from "fastify";
import { gatewayErrors } from "../errors.ts";
import type { GatewayPlugin } from "../types.ts";
import { sendProblem } from "./send-problem.ts";

/** A canned answer for a route whose service is down, e.g. an empty list. */
export interface Fallback {
  /** @default 200 */
  readonly status?: number;
  /** Sent as JSON: the shape the route's response has. */
  readonly body: unknown;
}

export interface BreakerSettings {
  /** `Retry-After` of the 503, seconds; about the client breaker's half-open delay. @default 5 */
  readonly retryAfterSec: number;
  /** By operationId, e.g. `{ "CatalogService_ListEvents": { "body": { "events": [] } } }`. */
  readonly fallbacks: Readonly<Record<string, Fallback>>;
}

export const defaultBreaker: BreakerSettings = { retryAfterSec: 5, fallbacks: {} };

export interface BreakerOptions {
  readonly settings?: () => BreakerSettings;
  /** The response cache's stale lookup (`responseCache(...).stale`). */
  readonly stale?: (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;
}

// The service is unwell, not the request wrong: worth a stale or canned answer.
const DOWN = new Set(["KIT_ERR_CIRCUIT_OPEN", "KIT_ERR_NO_INSTANCE", "KIT_ERR_UNAVAILABLE", "KIT_ERR_DRAINING", "KIT_ERR_BULKHEAD_FULL", "GW_ERR_TIMEOUT"]);
// Of those, the ones that mean "not even tried": answered as the gateway's own 503.
const CUT_OFF = new Set(["KIT_ERR_CIRCUIT_OPEN", "KIT_ERR_NO_INSTANCE"]);

export function breaker(options: BreakerOptions = {}): GatewayPlugin {
  const settings = options.settings ?? (() => defaultBreaker);
  return (api) => {
    // In the API routes' scope; whatever is rethrown goes on to the gateway's own error handler.
    api.setErrorHandler(async (error, request, reply) => {
      const meta = request.routeMeta ?? undefined;
      if (meta === undefined || !(error instanceof FlotillaError) || !DOWN.has(error.code)) throw error;
      if (options.stale !== undefined && (await options.stale(request, reply))) {
        request.log.warn({ code: error.code }, "served a stale response: the service is down");
        return reply;
      }
      const { fallbacks, retryAfterSec } = settings();
      const fallback = Object.hasOwn(fallbacks, meta.operationId) ? fallbacks[meta.operationId] : undefined;
      if (fallback !== undefined) {
        request.log.warn({ code: error.code }, "served the route's fallback: the service is down");
        return reply
          .code(fallback.status ?? 200)
          .header("x-flotilla-fallback", "true")
          .header("cache-control", "no-store")
          .type("application/json; charset=utf-8")
          .send(JSON.stringify(fallback.body));
      }
      if (!CUT_OFF.has(error.code)) throw error;
      const unavailable = gatewayErrors.create("GW_ERR_SERVICE_UNAVAILABLE", `${meta.service.name} is unavailable; retry in ${retryAfterSec} s`, { cause: error });
      return sendProblem(request, reply, unavailable, { "retry-after": String(retryAfterSec) });
    });
  };
}
