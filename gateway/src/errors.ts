import { defineErrors, type ErrorSpec } from "@flotilla/kit";

/**
 * An error the gateway itself answers with. HTTP has statuses that no RPC
 * code maps to (405, 413, 415, 502), so each entry names its status and the
 * problem title besides the usual RPC code.
 */
export interface GatewayErrorSpec extends ErrorSpec {
  readonly http: number;
  /** The RFC 9457 `title`: the same for every occurrence of the problem. */
  readonly title: string;
}

/** The gateway's own errors. Every code is documented (checked by a test). */
export const gatewayErrors = defineErrors({
  GW_ERR_ROUTE_NOT_FOUND: {
    rpc: "not_found",
    http: 404,
    title: "Route not found",
    retryable: false,
    doc: "No route matches the request path.",
  },
  GW_ERR_METHOD_NOT_ALLOWED: {
    rpc: "unimplemented",
    http: 405,
    title: "Method not allowed",
    retryable: false,
    doc: "The path exists but not with this HTTP method; the `Allow` header lists the methods it has.",
  },
  GW_ERR_MALFORMED_JSON: {
    rpc: "invalid_argument",
    http: 400,
    title: "Malformed JSON",
    retryable: false,
    doc: "The request body is not valid JSON (or is empty); the detail gives the parser's message and position.",
  },
  GW_ERR_INVALID_FIELD: {
    rpc: "invalid_argument",
    http: 400,
    title: "Invalid field",
    retryable: false,
    doc: "A body, path or query field is unknown or has the wrong type; the detail and `violations` name it.",
  },
  GW_ERR_BAD_REQUEST: {
    rpc: "invalid_argument",
    http: 400,
    title: "Bad request",
    retryable: false,
    doc: "The HTTP request itself is malformed (a bad URL encoding, a body that does not match its Content-Length).",
  },
  GW_ERR_REQUEST_TIMEOUT: {
    rpc: "deadline_exceeded",
    http: 408,
    title: "Request timeout",
    retryable: true,
    doc: "The client took too long to send the request's headers or body (a slow or stalled connection); the connection is closed.",
  },
  GW_ERR_HEADERS_TOO_LARGE: {
    rpc: "invalid_argument",
    http: 431,
    title: "Request header fields too large",
    retryable: false,
    doc: "The request's headers are larger than the server accepts; the connection is closed.",
  },
  GW_ERR_PAYLOAD_TOO_LARGE: {
    rpc: "resource_exhausted",
    http: 413,
    title: "Payload too large",
    retryable: false,
    doc: "The request body is larger than the gateway accepts; the detail gives the limit.",
  },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: {
    rpc: "invalid_argument",
    http: 415,
    title: "Unsupported media type",
    retryable: false,
    doc: "The request body is not `application/json`.",
  },
  GW_ERR_TIMEOUT: {
    rpc: "deadline_exceeded",
    http: 504,
    title: "Upstream timeout",
    retryable: true,
    doc: "The service did not answer within the gateway's request timeout.",
  },
  GW_ERR_UPSTREAM: {
    rpc: "unknown",
    http: 502,
    title: "Bad gateway",
    retryable: false,
    doc: "The call to the service failed in a way that carries no error code; the cause is logged, not returned.",
  },
  GW_ERR_NOT_READY: {
    rpc: "unavailable",
    http: 503,
    title: "Not ready",
    retryable: true,
    doc: "The gateway is starting or draining and does not take traffic yet (`/readyz`).",
  },
  GW_ERR_INTERNAL: {
    rpc: "internal",
    http: 500,
    title: "Internal error",
    retryable: false,
    doc: "A bug in the gateway; the cause is logged, not returned.",
  },
  GW_ERR_RATE_LIMITED: {
    rpc: "resource_exhausted",
    http: 429,
    title: "Too many requests",
    retryable: true,
    doc: "The caller (user, app key or IP) used up its request quota for this class of routes; `Retry-After` and `RateLimit-Reset` say when to try again.",
  },
  GW_ERR_IDEMPOTENCY_KEY_INVALID: {
    rpc: "invalid_argument",
    http: 400,
    title: "Invalid idempotency key",
    retryable: false,
    doc: "The `Idempotency-Key` header is empty, longer than 255 characters or not printable ASCII.",
  },
  GW_ERR_IDEMPOTENCY_KEY_REUSED: {
    rpc: "failed_precondition",
    http: 422,
    title: "Idempotency key reused",
    retryable: false,
    doc: "The `Idempotency-Key` was already used with a different request body (or route); use a new key for a new request.",
  },
  GW_ERR_IDEMPOTENCY_IN_PROGRESS: {
    rpc: "aborted",
    http: 409,
    title: "Request in progress",
    retryable: true,
    doc: "A request with the same `Idempotency-Key` is still running; retry after it finishes to get its response.",
  },
  GW_ERR_SERVICE_UNAVAILABLE: {
    rpc: "unavailable",
    http: 503,
    title: "Service unavailable",
    retryable: true,
    doc: "The service's circuit breaker is open (or it has no live instance) and the route has neither a cached response nor a declared fallback; `Retry-After` says when to try again.",
  },
  GW_ERR_UNAUTHENTICATED: {
    rpc: "unauthenticated",
    http: 401,
    title: "Authentication required",
    retryable: false,
    doc: "The route needs a bearer access token and the request has none, or its `Authorization` header is not `Bearer <token>`; `WWW-Authenticate` says so (RFC 6750).",
  },
  GW_ERR_APP_KEY_INVALID: {
    rpc: "unauthenticated",
    http: 401,
    title: "Invalid app key",
    retryable: false,
    doc: "The `X-Api-Key` header names no known app, or that app's key was revoked.",
  },
  GW_ERR_APP_VERSION_INVALID: {
    rpc: "invalid_argument",
    http: 400,
    title: "Invalid app version",
    retryable: false,
    doc: "The `X-App-Version` header is not a dotted version (`2.4.1`) or `X-App-Platform` is not a platform name.",
  },
  GW_ERR_UPGRADE_REQUIRED: {
    rpc: "failed_precondition",
    http: 426,
    title: "Upgrade required",
    retryable: false,
    doc: "The app is older than the minimum version configured for its platform; the problem's `upgrade` member gives the minimum and the store URL.",
  },
  GW_ERR_BAD_ROUTE: {
    rpc: "failed_precondition",
    http: 500,
    title: "Bad route",
    retryable: false,
    doc: "At start-up: a `google.api.http` annotation cannot be routed (bad template, unknown field); the message names the method.",
  },
});

export type GatewayErrorCode = keyof typeof gatewayErrors.table;

/** The gateway's spec for `code`, or undefined when the code is not a gateway code. */
export function gatewaySpecOf(code: string): GatewayErrorSpec | undefined {
  return Object.hasOwn(gatewayErrors.table, code) ? gatewayErrors.table[code as GatewayErrorCode] : undefined;
}
