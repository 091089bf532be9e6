import { defineErrors } from "./flotilla-error.ts";

/** The chassis's own errors. Every code is documented in docs/errors.md (checked by a test). */
export const kitErrors = defineErrors({
  KIT_ERR_INTERNAL: { rpc: "internal", retryable: false, doc: "An unexpected failure inside a service; the cause is logged, not returned." },
  KIT_ERR_CANCELED: { rpc: "canceled", retryable: false, doc: "The caller canceled the call." },
  KIT_ERR_DEADLINE_EXCEEDED: { rpc: "deadline_exceeded", retryable: true, doc: "The call's deadline passed before it completed." },
  KIT_ERR_INVALID_ARGUMENT: { rpc: "invalid_argument", retryable: false, doc: "The request failed validation; `violations` lists the fields." },
  KIT_ERR_MALFORMED_REQUEST: { rpc: "invalid_argument", retryable: false, doc: "The request body could not be decoded (bad JSON or protobuf)." },
  KIT_ERR_UNIMPLEMENTED: { rpc: "unimplemented", retryable: false, doc: "No such service or method at this endpoint." },
  KIT_ERR_NO_INSTANCE: { rpc: "unavailable", retryable: true, doc: "No live instance of the called service is registered." },
  KIT_ERR_UNAVAILABLE: { rpc: "unavailable", retryable: true, doc: "The upstream could not be reached or closed the connection." },
  KIT_ERR_CIRCUIT_OPEN: { rpc: "unavailable", retryable: true, doc: "The circuit breaker for the upstream is open after repeated failures." },
  KIT_ERR_BULKHEAD_FULL: { rpc: "resource_exhausted", retryable: true, doc: "Too many calls in flight to the upstream; the bulkhead rejected this one." },
  KIT_ERR_DRAINING: { rpc: "unavailable", retryable: true, doc: "The instance is shutting down and accepts no new calls." },
  KIT_ERR_CONFIG_INVALID: { rpc: "failed_precondition", retryable: false, doc: "A configuration value is missing or malformed; the message names the variable." },
  KIT_ERR_UNKNOWN_BACKEND: { rpc: "failed_precondition", retryable: false, doc: "A backend URL names a scheme that no implementation handles." },
  KIT_ERR_REGISTRY_UNAVAILABLE: { rpc: "unavailable", retryable: true, doc: "The service registry (NATS KV) cannot be reached." },
  KIT_ERR_MIGRATION_FAILED: { rpc: "internal", retryable: false, doc: "A database migration failed or a migration applied earlier was changed." },
  KIT_ERR_DB_UNAVAILABLE: { rpc: "unavailable", retryable: true, doc: "The database cannot be reached." },
  KIT_ERR_MESSAGE_TOO_LARGE: { rpc: "resource_exhausted", retryable: false, doc: "A request or response body is larger than the endpoint accepts (4 MiB by default)." },
  KIT_ERR_UPSTREAM: { rpc: "unknown", retryable: false, doc: "An upstream answered with an error that carries no Flotilla code; `rpc` is the code it sent." },
  KIT_ERR_BUS_UNAVAILABLE: { rpc: "unavailable", retryable: true, doc: "The event bus (NATS JetStream) cannot be reached or did not acknowledge a publish in time." },
  KIT_ERR_WRONG_EXPECTED_VERSION: { rpc: "aborted", retryable: true, doc: "An event stream changed since it was read (optimistic concurrency); reload it and decide again." },
  KIT_ERR_CACHE_UNAVAILABLE: { rpc: "unavailable", retryable: true, doc: "The cache (Redis) cannot be reached, timed out or is closed; cached reads fall back to the source." },
});
export type KitErrorCode = keyof typeof kitErrors.table;
