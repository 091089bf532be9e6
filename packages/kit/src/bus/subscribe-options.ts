import { kitErrors } from "../errors/index.ts";
import { checkEventType } from "./event-checks.ts";
import type { SubscribeOptions } from "./types.ts";

export const DEFAULT_BACKOFF_MS: readonly number[] = [100, 500, 2000, 10_000];
export const DEFAULT_CONCURRENCY = 16;

/** SubscribeOptions with defaults applied and checked, shared by every backend. */
export interface ResolvedSubscribeOptions {
  readonly consumer: string;
  readonly type: string;
  readonly backoffMs: readonly number[];
  readonly concurrency: number;
}

export function resolveSubscribeOptions(options: SubscribeOptions): ResolvedSubscribeOptions {
  const { consumer, type } = options;
  const backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (typeof consumer !== "string" || consumer.trim() === "") {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "a subscription needs a consumer name");
  }
  checkEventType(type);
  if (backoffMs.length === 0 || !backoffMs.every((ms) => Number.isFinite(ms) && ms >= 0)) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `backoffMs must be a non-empty list of delays >= 0, got ${JSON.stringify(backoffMs)}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `concurrency must be an integer >= 1, got ${concurrency}`);
  }
  return { consumer, type, backoffMs: [...backoffMs], concurrency };
}

/** The delay before redelivering after the given (1-based) attempt failed; the last delay repeats. */
export function redeliveryDelay(backoffMs: readonly number[], attempt: number): number {
  const index = Math.min(Math.max(attempt, 1), backoffMs.length) - 1;
  return backoffMs[index] ?? 0;
}
