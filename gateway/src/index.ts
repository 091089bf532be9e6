// Public surface of the Flotilla API gateway.
export {
  type AppKeyConfig,
  defaultGatewayConfig,
  type GatewayConfig,
  type GatewayConfigSource,
  gatewayConfigSchema,
  loadGatewayConfig,
  staticConfig,
  watchGatewayConfig,
} from "./config.ts";
export { gatewayErrors, type GatewayErrorCode, type GatewayErrorSpec } from "./errors.ts";
export { createGateway } from "./gateway.ts";
export { buildOpenApi, type OpenApiDocument, type OpenApiOperation, type OpenApiOptions, type OpenApiParameter } from "./openapi.ts";
export type { JsonSchema } from "./openapi-schema.ts";
export { type Problem, PROBLEM_CONTENT_TYPE, problemOf } from "./problem.ts";
export type { GatewayOptions, GatewayPlugin, HttpVerb, Invoke, RequestAuth, RouteMeta } from "./types.ts";
export { type AppVersionOptions, appVersion } from "./plugins/app-version.ts";
export { type AuthOptions, auth } from "./plugins/auth.ts";
export { compression, type EdgeOptions, edge } from "./plugins/edge.ts";
export { type BreakerOptions, type BreakerSettings, breaker, defaultBreaker, type Fallback } from "./plugins/breaker.ts";
export { type CanarySettings, canary, defaultCanary, pickVersion, VERSION_HEADER } from "./plugins/canary.ts";
export { defaultIdempotency, type IdempotencyOptions, type IdempotencySettings, idempotency } from "./plugins/idempotency.ts";
export type { BeginResult, IdempotencyStore, StoredResponse } from "./plugins/idempotency-store.ts";
export { MemoryIdempotencyStore } from "./plugins/idempotency-store-memory.ts";
export { RedisIdempotencyStore } from "./plugins/idempotency-store-redis.ts";
export { defaultRateLimits, handshakeLimiter, type RateLimitClass, type RateLimitOptions, type RateLimitRule, type RateLimitSettings, rateLimit } from "./plugins/rate-limit.ts";
export { cacheInvalidationRules, defaultResponseCache, type ResponseCache, type ResponseCacheOptions, type ResponseCacheSettings, responseCache } from "./plugins/response-cache.ts";
export { type Traffic, type TrafficOptions, trafficPlugins } from "./plugins/traffic.ts";
export { handshakeToken, mountRealtime, type RealtimeOptions, type RealtimeUpstream } from "./websocket.ts";
export { runWorkers, workerCount, type WorkersOptions } from "./workers.ts";
