import { defineErrors } from "../errors/index.ts";

/** The saga orchestrator's errors. */
export const sagaErrors = defineErrors({
  SAGA_ERR_INVALID_DEFINITION: {
    rpc: "failed_precondition",
    retryable: false,
    doc: "A saga definition is malformed: no steps, a duplicate step name, a step without a compensation, a bad retry or timeout.",
  },
  SAGA_ERR_UNKNOWN_SAGA: { rpc: "invalid_argument", retryable: false, doc: "No saga of that name is registered with the orchestrator." },
  SAGA_ERR_ID_CONFLICT: { rpc: "already_exists", retryable: false, doc: "A saga with that id already exists under another saga name." },
  SAGA_ERR_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "No saga has that id." },
  SAGA_ERR_INVALID_INPUT: { rpc: "invalid_argument", retryable: false, doc: "A saga's input or a step's result is not JSON-serialisable." },
  SAGA_ERR_STEP_TIMEOUT: { rpc: "deadline_exceeded", retryable: true, doc: "A saga step's attempt did not finish within its timeoutMs." },
  SAGA_ERR_LEASE_LOST: {
    rpc: "aborted",
    retryable: true,
    doc: "This orchestrator no longer holds the saga's lease (another replica took it over); it stops running the saga.",
  },
  SAGA_ERR_WAIT_TIMEOUT: { rpc: "deadline_exceeded", retryable: true, doc: "A saga did not end within the time given to wait()." },
  SAGA_ERR_CLOSED: { rpc: "unavailable", retryable: true, doc: "The saga orchestrator is shutting down and starts no saga." },
});
export type SagaErrorCode = keyof typeof sagaErrors.table;
