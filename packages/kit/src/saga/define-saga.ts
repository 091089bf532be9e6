import { sagaErrors } from "./errors.ts";
import type { SagaDefinition, SagaStep } from "./types.ts";

// No ":" in names: step names end the idempotency key `${sagaId}:${step}:${phase}` unambiguously.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Declares a saga: ordered steps, each with its compensation. Checked here,
 * at definition, so a malformed saga stops the service at start rather than
 * half-way through a booking.
 *
 *   const booking = defineSaga<{ seat: string; card: string }>({
 *     name: "book-ticket",
 *     steps: [
 *       { name: "hold-seat", run: (c) => seats.hold(c.input.seat, c.idempotencyKey),
 *         compensate: (c) => seats.release(c.input.seat, c.idempotencyKey) },
 *       { name: "charge", run: (c) => payments.charge(c.input.card, c.idempotencyKey),
 *         compensate: (c) => payments.refund(c.results.charge, c.idempotencyKey),
 *         timeoutMs: 5_000, retry: { attempts: 3, backoffMs: 200 } },
 *       { name: "issue", run: (c) => tickets.issue(c.idempotencyKey), compensate: "none" },
 *     ],
 *   });
 *
 * Steps MUST be idempotent by `ctx.idempotencyKey`: a step in flight when its
 * process died, or whose attempt timed out, runs again with the same key.
 * `compensate: "none"` says explicitly that the step has nothing to undo.
 */
export function defineSaga<Input = unknown, Results extends Record<string, unknown> = Record<string, unknown>>(definition: {
  name: string;
  steps: readonly SagaStep<Input, Results>[];
}): SagaDefinition<Input, Results> {
  const { name, steps } = definition;
  const invalid = (why: string) => sagaErrors.create("SAGA_ERR_INVALID_DEFINITION", `saga "${name}": ${why}`);
  if (typeof name !== "string" || !NAME.test(name)) throw invalid(`the name must match ${NAME}`);
  if (!Array.isArray(steps) || steps.length === 0) throw invalid("it has no steps");
  const seen = new Set<string>();
  for (const [i, step] of steps.entries()) {
    const label = `step ${i + 1}${typeof step?.name === "string" ? ` "${step.name}"` : ""}`;
    if (typeof step?.name !== "string" || !NAME.test(step.name)) throw invalid(`${label}: the name must match ${NAME}`);
    if (seen.has(step.name)) throw invalid(`${label}: the name is used twice`);
    seen.add(step.name);
    if (typeof step.run !== "function") throw invalid(`${label}: run must be a function`);
    // The type already requires it; this catches plain JavaScript and casts.
    if (typeof step.compensate !== "function" && step.compensate !== "none") {
      throw invalid(`${label}: every step declares its compensation, a function or "none" when there is nothing to undo`);
    }
    if (step.timeoutMs !== undefined && !(Number.isFinite(step.timeoutMs) && step.timeoutMs > 0)) {
      throw invalid(`${label}: timeoutMs must be a positive number`);
    }
    if (step.retry !== undefined) {
      const { attempts, backoffMs } = step.retry;
      if (!Number.isInteger(attempts) || attempts < 1) throw invalid(`${label}: retry.attempts must be an integer >= 1`);
      if (!(Number.isFinite(backoffMs) && backoffMs >= 0)) throw invalid(`${label}: retry.backoffMs must be a number >= 0`);
    }
  }
  return Object.freeze({ name, steps: Object.freeze(steps.map((s) => Object.freeze({ ...s }))) });
}
