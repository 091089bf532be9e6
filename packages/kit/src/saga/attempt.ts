import { FlotillaError } from "../errors/index.ts";
import { sagaErrors } from "./errors.ts";

export type AttemptOutcome = { ok: true; value: unknown } | { ok: false; error: unknown; timedOut: boolean };

/**
 * Runs one attempt of a step under its deadline. The attempt is abandoned,
 * not awaited, when the deadline passes or `halt` fires: a step that ignores
 * its signal cannot hold the saga. Its late effect, if any, is what the
 * idempotency key is for.
 */
export async function runAttempt(fn: (signal: AbortSignal) => Promise<unknown>, timeoutMs: number | undefined, halt: AbortSignal): Promise<AttemptOutcome> {
  // AbortSignal.timeout's timer does not keep the process alive.
  const deadline = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  const signal = deadline === undefined ? halt : AbortSignal.any([halt, deadline]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    // fn is called inside the race so that a synchronous throw is a failed attempt too.
    const value = await Promise.race([aborted, Promise.resolve().then(() => fn(signal))]);
    return { ok: true, value };
  } catch (error) {
    const timedOut = deadline?.aborted === true && !halt.aborted;
    if (timedOut) return { ok: false, error: sagaErrors.create("SAGA_ERR_STEP_TIMEOUT", `the attempt took more than ${timeoutMs} ms`), timedOut };
    return { ok: false, error, timedOut: false };
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}

/** Exponential backoff before attempt `attempt + 1`, capped. */
export function backoff(baseMs: number, attempt: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

/** How an error reads in the saga's history: its code when it has one. */
export function describeError(error: unknown): string {
  if (error instanceof FlotillaError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
