// Typed, resilient clients for calling other services.
export { Balancer, type InstanceLoad } from "./balancer.ts";
export { createClient } from "./create-client.ts";
export { type BreakerState, countsAgainstBreaker } from "./guards.ts";
export type { CallOptions, Client, ClientCall, ClientDeps, ClientInterceptor, ClientPolicy, ClientSend } from "./types.ts";
export { defaultPolicy, Upstream } from "./upstream.ts";
export { ROUTE_VERSION_KEY, routeByVersion } from "./version-route.ts";
