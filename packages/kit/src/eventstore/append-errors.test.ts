import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { fromAppendError } from "./append-errors.ts";

// Both drivers' shapes of a unique violation: `postgres` (constraint_name) and PGlite (constraint).
const violation = (constraint: string, driver: "postgres" | "pglite") =>
  Object.assign(new Error("duplicate key value violates unique constraint"), {
    code: "23505",
    ...(driver === "postgres" ? { constraint_name: constraint } : { constraint }),
  });

for (const driver of ["postgres", "pglite"] as const) {
  test(`${driver}: a unique violation on (stream_id, version) is the retryable version conflict, keeping the cause`, () => {
    const cause = violation("flotilla_events_stream_version_key", driver);
    const error = fromAppendError(cause, "s", 3);
    assert.ok(error instanceof FlotillaError);
    assert.equal(error.code, "KIT_ERR_WRONG_EXPECTED_VERSION");
    assert.equal(error.retryable, true);
    assert.equal(error.cause, cause);
    assert.match(error.message, /stream s: expected version 3/);
  });

  test(`${driver}: a duplicate event id is invalid input, not a conflict`, () => {
    const error = fromAppendError(violation("flotilla_events_event_id_key", driver), "s", "any");
    assert.ok(error instanceof FlotillaError);
    assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
    assert.equal(error.retryable, false);
  });
}

test("other errors pass through untouched", () => {
  const other = violation("some_other_key", "postgres");
  assert.equal(fromAppendError(other, "s", 1), other);
  const missing = Object.assign(new Error("no table"), { code: "42P01" });
  assert.equal(fromAppendError(missing, "s", 1), missing);
  assert.equal(fromAppendError("boom", "s", 1), "boom");
});
