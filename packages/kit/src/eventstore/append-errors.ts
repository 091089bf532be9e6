import { kitErrors } from "../errors/index.ts";
import type { ExpectedVersion } from "./types.ts";

const UNIQUE_VIOLATION = "23505";

/** The typed conflict: the stream is not at the version the writer decided on. */
export function wrongExpectedVersion(streamId: string, expected: ExpectedVersion, actual: number | undefined, cause?: unknown) {
  const found = actual === undefined ? "another writer appended first" : actual === 0 ? "it has no event" : `it is at version ${actual}`;
  const message = `stream ${streamId}: expected version ${String(expected)}, but ${found}`;
  return kitErrors.create("KIT_ERR_WRONG_EXPECTED_VERSION", message, cause === undefined ? undefined : { cause });
}

/**
 * The unique index on (stream_id, version) is the final arbiter between
 * writers: whichever commits second gets 23505 on it, which is the same
 * conflict as a failed version check. A duplicate event id is the caller's
 * mistake (or a retried append that did commit) and is not retryable.
 * Anything else passes through untouched.
 */
export function fromAppendError(error: unknown, streamId: string, expected: ExpectedVersion): unknown {
  if (typeof error !== "object" || error === null) return error;
  const { code } = error as { code?: unknown };
  if (code !== UNIQUE_VIOLATION) return error;
  const constraint = constraintOf(error);
  if (constraint === "flotilla_events_stream_version_key") {
    return wrongExpectedVersion(streamId, expected, undefined, error);
  }
  if (constraint === "flotilla_events_event_id_key") {
    return kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `stream ${streamId}: an event with this id was already appended`, { cause: error });
  }
  return error;
}

// `postgres` names the field constraint_name, PGlite constraint.
function constraintOf(error: object): string | undefined {
  const { constraint_name, constraint } = error as { constraint_name?: unknown; constraint?: unknown };
  if (typeof constraint_name === "string") return constraint_name;
  if (typeof constraint === "string") return constraint;
  return undefined;
}
