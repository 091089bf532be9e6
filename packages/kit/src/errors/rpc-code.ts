// The status codes of the Connect protocol (the same set as gRPC), with their
// HTTP status as the Connect specification maps them.
export const RpcCode = {
  /** The caller gave up. */
  canceled: "canceled",
  /** An error with no better code. */
  unknown: "unknown",
  /** The request is malformed or fails validation. */
  invalid_argument: "invalid_argument",
  /** The deadline passed before the call completed. */
  deadline_exceeded: "deadline_exceeded",
  /** The entity does not exist. */
  not_found: "not_found",
  /** The entity already exists. */
  already_exists: "already_exists",
  /** The caller may not do this. */
  permission_denied: "permission_denied",
  /** A quota, rate limit or bulkhead is exhausted. */
  resource_exhausted: "resource_exhausted",
  /** The system is not in a state that allows this. */
  failed_precondition: "failed_precondition",
  /** Concurrency conflict; retry the whole transaction. */
  aborted: "aborted",
  /** Out of the valid range. */
  out_of_range: "out_of_range",
  /** The method does not exist here. */
  unimplemented: "unimplemented",
  /** A bug on the server. */
  internal: "internal",
  /** Transient: the service could not be reached or is overloaded. */
  unavailable: "unavailable",
  /** Unrecoverable data loss. */
  data_loss: "data_loss",
  /** No valid credentials. */
  unauthenticated: "unauthenticated",
} as const;
export type RpcCode = (typeof RpcCode)[keyof typeof RpcCode];

const httpStatus: Record<RpcCode, number> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

export function httpStatusOf(code: RpcCode): number {
  return httpStatus[code];
}

export function isRpcCode(value: unknown): value is RpcCode {
  return typeof value === "string" && Object.hasOwn(httpStatus, value);
}
