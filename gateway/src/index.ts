// Public surface of the Flotilla API gateway.
export { gatewayErrors, type GatewayErrorCode, type GatewayErrorSpec } from "./errors.ts";
export { createGateway } from "./gateway.ts";
export { buildOpenApi, type OpenApiDocument, type OpenApiOperation, type OpenApiOptions, type OpenApiParameter } from "./openapi.ts";
export type { JsonSchema } from "./openapi-schema.ts";
export { type Problem, PROBLEM_CONTENT_TYPE, problemOf } from "./problem.ts";
export type { GatewayOptions, GatewayPlugin, HttpVerb, Invoke, RouteMeta } from "./types.ts";
