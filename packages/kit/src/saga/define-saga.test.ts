import assert from "node:assert/strict";
import { test } from "node:test";
import { defineSaga } from "./define-saga.ts";
import { sagaErrors } from "./errors.ts";
import type { SagaStep } from "./types.ts";

const ok = async () => {};
const invalid = (message: RegExp) => (error: unknown) => sagaErrors.is(error, "SAGA_ERR_INVALID_DEFINITION") && message.test(error.message);

test("defineSaga keeps the steps in order, frozen, with their compensations", () => {
  const saga = defineSaga<{ seat: string }>({
    name: "book-ticket",
    steps: [
      { name: "hold", run: async (c) => c.input.seat, compensate: ok },
      { name: "notify", run: ok, compensate: "none", timeoutMs: 100, retry: { attempts: 3, backoffMs: 10 } },
    ],
  });
  assert.equal(saga.name, "book-ticket");
  assert.deepEqual(
    saga.steps.map((s) => [s.name, s.compensate === "none" ? "none" : "fn"]),
    [
      ["hold", "fn"],
      ["notify", "none"],
    ],
  );
  assert.ok(Object.isFrozen(saga.steps) && Object.isFrozen(saga.steps[0]));
});

test("a step without a compensation is rejected by the type and at definition", () => {
  // @ts-expect-error: compensate is required; "none" must be said explicitly.
  const step: SagaStep<unknown> = { name: "charge", run: ok };
  assert.throws(() => defineSaga({ name: "pay", steps: [step] }), invalid(/step 1 "charge": every step declares its compensation/));
  const wrong = { name: "charge", run: ok, compensate: "nothing" } as unknown as SagaStep<unknown>;
  assert.throws(() => defineSaga({ name: "pay", steps: [wrong] }), invalid(/every step declares its compensation/));
});

test("defineSaga rejects a malformed saga with the step at fault", () => {
  assert.throws(() => defineSaga({ name: "empty", steps: [] }), invalid(/no steps/));
  assert.throws(() => defineSaga({ name: "", steps: [{ name: "a", run: ok, compensate: ok }] }), invalid(/name must match/));
  assert.throws(
    () =>
      defineSaga({
        name: "dup",
        steps: [
          { name: "a", run: ok, compensate: ok },
          { name: "a", run: ok, compensate: ok },
        ],
      }),
    invalid(/step 2 "a": the name is used twice/),
  );
  assert.throws(() => defineSaga({ name: "s", steps: [{ name: "a:b", run: ok, compensate: ok }] }), invalid(/step 1 "a:b": the name must match/));
  assert.throws(() => defineSaga({ name: "s", steps: [{ name: "a", run: ok, compensate: ok, timeoutMs: 0 }] }), invalid(/timeoutMs/));
  assert.throws(
    () => defineSaga({ name: "s", steps: [{ name: "a", run: ok, compensate: ok, retry: { attempts: 0, backoffMs: 1 } }] }),
    invalid(/retry.attempts/),
  );
  assert.throws(
    () => defineSaga({ name: "s", steps: [{ name: "a", run: ok, compensate: ok, retry: { attempts: 2, backoffMs: -1 } }] }),
    invalid(/retry.backoffMs/),
  );
  const noRun = { name: "a", compensate: ok } as unknown as SagaStep<unknown>;
  assert.throws(() => defineSaga({ name: "s", steps: [noRun] }), invalid(/run must be a function/));
});
