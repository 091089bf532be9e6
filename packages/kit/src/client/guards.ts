// The circuit breaker and the bulkhead of one upstream service (cockatiel).
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  type BulkheadPolicy,
  bulkhead,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  IsolatedCircuitError,
  TaskCancelledError,
} from "cockatiel";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import type { ClientPolicy } from "./types.ts";

/**
 * Failures that say the upstream is unwell: it could not be reached, was
 * unavailable or too slow. Answers such as invalid_argument or not_found are
 * the upstream working correctly and never open the breaker.
 */
export function countsAgainstBreaker(error: unknown): boolean {
  if (!(error instanceof FlotillaError)) return false;
  if (error.code === "KIT_ERR_DRAINING" || error.code === "KIT_ERR_CIRCUIT_OPEN" || error.code === "KIT_ERR_BULKHEAD_FULL") return false;
  return error.rpc === "unavailable" || error.rpc === "deadline_exceeded";
}

export type BreakerState = "closed" | "open" | "half_open" | "isolated" | "disabled";

const stateNames: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half_open",
  [CircuitState.Isolated]: "isolated",
};

export class UpstreamGuards {
  readonly #name: string;
  readonly #breaker: CircuitBreakerPolicy | undefined;
  readonly #bulkhead: BulkheadPolicy | undefined;

  constructor(name: string, policy: Pick<ClientPolicy, "breaker" | "bulkhead">) {
    this.#name = name;
    if (policy.breaker !== false) {
      this.#breaker = circuitBreaker(handleWhen(countsAgainstBreaker), {
        halfOpenAfter: policy.breaker.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(policy.breaker.consecutiveFailures),
      });
    }
    if (policy.bulkhead !== false) this.#bulkhead = bulkhead(policy.bulkhead.limit, policy.bulkhead.queue);
  }

  get breakerState(): BreakerState {
    return this.#breaker === undefined ? "disabled" : stateNames[this.#breaker.state];
  }

  /** Runs the whole call (all its attempts) in one bulkhead slot. */
  async limit<T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (this.#bulkhead === undefined) return fn();
    try {
      return await this.#bulkhead.execute(fn, signal);
    } catch (error) {
      if (error instanceof BulkheadRejectedError) throw kitErrors.create("KIT_ERR_BULKHEAD_FULL", `too many calls in flight to ${this.#name}`, { cause: error });
      if (error instanceof TaskCancelledError) throw kitErrors.create("KIT_ERR_CANCELED", "the caller canceled the call while it waited for a slot", { cause: error });
      throw error;
    }
  }

  /** Runs one call (with its retries) through the breaker. */
  async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#breaker === undefined) return fn();
    try {
      return await this.#breaker.execute(fn);
    } catch (error) {
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
        throw kitErrors.create("KIT_ERR_CIRCUIT_OPEN", `the circuit to ${this.#name} is open after repeated failures`, { cause: error });
      }
      throw error;
    }
  }
}
