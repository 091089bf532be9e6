import assert from "node:assert/strict";
import { test } from "node:test";
import { backoff, describeError, runAttempt } from "./attempt.ts";
import { sagaErrors } from "./errors.ts";

const never = () => new Promise<never>(() => {});

test("runAttempt returns the value, or the error of a failed attempt (a synchronous throw too)", async () => {
  const halt = new AbortController().signal;
  assert.deepEqual(await runAttempt(async () => 42, 1_000, halt), { ok: true, value: 42 });
  const boom = new Error("boom");
  assert.deepEqual(await runAttempt(async () => Promise.reject(boom), undefined, halt), { ok: false, error: boom, timedOut: false });
  const sync = await runAttempt(
    () => {
      throw boom;
    },
    undefined,
    halt,
  );
  assert.deepEqual(sync, { ok: false, error: boom, timedOut: false });
});

test("runAttempt abandons an attempt past its deadline and aborts its signal", async () => {
  let seen: AbortSignal | undefined;
  const outcome = await runAttempt(
    (signal) => {
      seen = signal;
      return never();
    },
    30,
    new AbortController().signal,
  );
  assert.equal(outcome.ok, false);
  assert.ok(!outcome.ok && outcome.timedOut && sagaErrors.is(outcome.error, "SAGA_ERR_STEP_TIMEOUT"));
  assert.equal(seen?.aborted, true);
});

test("runAttempt stops at once when halted, and that is not a timeout", async () => {
  const halt = new AbortController();
  setTimeout(() => halt.abort(new Error("halted")), 10);
  const outcome = await runAttempt(never, 10_000, halt.signal);
  assert.ok(!outcome.ok && !outcome.timedOut);
  assert.match(describeError(!outcome.ok && outcome.error), /halted/);
});

test("backoff doubles from the base and stops at the cap", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoff(100, n, 500)),
    [100, 200, 400, 500, 500],
  );
  assert.equal(describeError(sagaErrors.create("SAGA_ERR_NOT_FOUND", "no saga x")), "SAGA_ERR_NOT_FOUND: no saga x");
});
