// RFC 9457 problem details: the one shape of every error response.
import { STATUS_CODES } from "node:http";
import { FlotillaError, type RpcCode } from "@flotilla/kit";
import { type GatewayErrorCode, gatewayErrors, gatewaySpecOf } from "./errors.ts";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface Problem {
  /** Relative URI naming the problem, e.g. `/problems/gw-err-route-not-found`. */
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request id: the handle to find the request in the logs. */
  instance: string;
  code: string;
  violations?: { field: string; message: string }[];
}

export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: Problem;
}

// RPC codes whose message may carry internals (stack fragments, SQL, hosts):
// the client gets a fixed text, the log gets the rest.
const HIDDEN: ReadonlySet<RpcCode> = new Set<RpcCode>(["internal", "unknown", "data_loss"]);

export function problemType(code: string): string {
  return `/problems/${code.toLowerCase().replaceAll("_", "-")}`;
}

/** Builds the response for an error, whether the gateway's own or one relayed from a service. */
export function problemOf(error: FlotillaError, requestId: string): ProblemResponse {
  const own = gatewaySpecOf(error.code);
  const status = own?.http ?? error.httpStatus;
  const hidden = own === undefined && HIDDEN.has(error.rpc);
  const body: Problem = {
    type: problemType(error.code),
    title: own?.title ?? STATUS_CODES[status] ?? "Error",
    status,
    detail: hidden ? "internal error" : error.message,
    instance: requestId,
    code: error.code,
  };
  if (error.violations.length > 0 && !hidden) {
    body.violations = error.violations.map((v) => ({ field: v.field, message: v.message }));
  }
  const headers: Record<string, string> = {};
  if (error.retryable && (status === 503 || status === 429)) headers["retry-after"] = "1";
  return { status, headers, body };
}

/** Fastify's error codes that a client can provoke, and what each becomes. */
const FASTIFY_ERRORS: Record<string, readonly [GatewayErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ["GW_ERR_PAYLOAD_TOO_LARGE", "the request body is too large"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ["GW_ERR_UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json"],
  FST_ERR_CTP_EMPTY_JSON_BODY: ["GW_ERR_MALFORMED_JSON", "the body is empty but the content type is JSON; send {} for an empty message"],
  FST_ERR_CTP_INVALID_JSON_BODY: ["GW_ERR_MALFORMED_JSON", "the request body is not valid JSON"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ["GW_ERR_BAD_REQUEST", "the request body does not match its Content-Length"],
  FST_ERR_BAD_URL: ["GW_ERR_BAD_REQUEST", "the request URL is not validly encoded"],
  FST_ERR_MAX_PARAM_LENGTH: ["GW_ERR_BAD_REQUEST", "a path segment of the request URL is too long"],
};

/**
 * Turns whatever reached Fastify's error handler into a known error. Unknown
 * values are gateway bugs: GW_ERR_INTERNAL, cause kept for the log.
 */
export function gatewayErrorFrom(error: unknown, bodyLimit?: number): FlotillaError {
  if (error instanceof FlotillaError) return error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (code === "FST_ERR_CTP_BODY_TOO_LARGE" && bodyLimit !== undefined) {
      const message = `the request body is larger than the limit of ${bodyLimit} bytes`;
      return gatewayErrors.create("GW_ERR_PAYLOAD_TOO_LARGE", message, { cause: error });
    }
    const mapped = typeof code === "string" ? FASTIFY_ERRORS[code] : undefined;
    if (mapped !== undefined) return gatewayErrors.create(mapped[0], mapped[1], { cause: error });
    if (error instanceof SyntaxError) {
      return gatewayErrors.create("GW_ERR_MALFORMED_JSON", `the request body is not valid JSON: ${error.message}`, { cause: error });
    }
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return gatewayErrors.create("GW_ERR_BAD_REQUEST", error.message, { cause: error });
    }
  }
  return gatewayErrors.create("GW_ERR_INTERNAL", "internal error", { cause: error });
}
