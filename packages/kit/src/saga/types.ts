import type { Logger } from "pino";
import type { Database } from "../db/types.ts";

/** Where a saga is in its life. */
export const SagaStatus = {
  /** Running its steps forward. */
  running: "running",
  /** A step failed: undoing the completed steps, last first. */
  compensating: "compensating",
  /** Every step ran. */
  completed: "completed",
  /** A step failed and every completed step was undone. */
  compensated: "compensated",
  /** A compensation kept failing past its bound; an operator must look (see `retryCompensation`). */
  failed_compensation: "failed_compensation",
} as const;
export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

/** Which of a step's two functions ran. */
export const StepPhase = {
  /** The step's forward action. */
  run: "run",
  /** The step's compensation. */
  compensate: "compensate",
} as const;
export type StepPhase = (typeof StepPhase)[keyof typeof StepPhase];

/** The outcome of one phase of one step. */
export const StepStatus = {
  /** An attempt is in flight, or waiting to be retried. */
  running: "running",
  /** It succeeded; its result is recorded. */
  succeeded: "succeeded",
  /** It failed after all its attempts. */
  failed: "failed",
  /** A compensation declared as `"none"`: nothing to undo. */
  skipped: "skipped",
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/** What a step's `run` and `compensate` receive. */
export interface StepContext<Input, Results extends Record<string, unknown> = Record<string, unknown>> {
  readonly sagaId: string;
  readonly saga: string;
  readonly step: string;
  readonly phase: StepPhase;
  /** The saga's input, as stored (a JSON round trip). */
  readonly input: Input;
  /** Results of the steps completed so far, by step name (in `compensate`, including this step's own). */
  readonly results: Readonly<Partial<Results>>;
  /**
   * `${sagaId}:${step}:${phase}`: the same on every attempt and after a crash.
   * Pass it to the remote call (an Idempotency-Key header, a unique column):
   * it is what turns a second call after a crash or a timeout into a no-op.
   */
  readonly idempotencyKey: string;
  /** 1 for the first attempt; counts attempts made before a crash too. */
  readonly attempt: number;
  /** Aborted when the attempt times out or the orchestrator is shut down. */
  readonly signal: AbortSignal;
}

export interface RetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  attempts: number;
  /** Wait before the second attempt; doubled for each later one, up to the orchestrator's `maxBackoffMs`. */
  backoffMs: number;
}

export interface SagaStep<Input, Results extends Record<string, unknown> = Record<string, unknown>> {
  /** Unique within the saga; part of the idempotency key, so never rename a step of a live saga. */
  name: string;
  /** The forward action. Its result must be JSON-serialisable; it is stored and given to later steps. */
  run(ctx: StepContext<Input, Results>): Promise<unknown>;
  /**
   * Undoes `run`. Required: a step with nothing to undo says so with `"none"`
   * (a read, a notification that may stand). It must succeed even when `run`
   * never took effect (a timed-out step is compensated too).
   */
  compensate: ((ctx: StepContext<Input, Results>) => Promise<void>) | "none";
  /** Deadline of each attempt, of `run` and of `compensate`; a timeout counts as a failed attempt. */
  timeoutMs?: number;
  /** Retries of `run` (default: one attempt). Compensations use the orchestrator's policy. */
  retry?: RetryPolicy;
}

export interface SagaDefinition<Input = unknown, Results extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly steps: readonly SagaStep<Input, Results>[];
}

/** One phase of one step, as recorded. */
export interface StepRecord {
  step: string;
  phase: StepPhase;
  status: StepStatus;
  attempts: number;
  result: unknown;
  error: string | null;
  startedAt: Date;
  endedAt: Date | null;
}

/** A saga as stored, without its step history (`list`). */
export interface SagaSummary {
  id: string;
  name: string;
  status: SagaStatus;
  /** The step being run or compensated; null once the saga has ended. */
  currentStep: string | null;
  /** Index of that step in the definition (running: next to run; compensating: next to undo). */
  stepIndex: number;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The orchestrator running it, while one holds its lease. */
  leaseOwner: string | null;
  leaseUntil: Date | null;
}

/** A saga with its input, results and step history (`get`). */
export interface SagaState extends SagaSummary {
  input: unknown;
  results: Record<string, unknown>;
  /** Every phase of every step that started, in order. */
  steps: StepRecord[];
}

export interface CompensationPolicy {
  /** Attempts of one compensation before the saga is `failed_compensation` (default 25). */
  attempts: number;
  /** First wait between attempts, doubled each time up to `maxBackoffMs` (default 250). */
  backoffMs: number;
}

export interface SagaOrchestratorOptions {
  db: Database;
  // biome-ignore lint/suspicious/noExplicitAny: definitions of any input type share one registry
  sagas: readonly SagaDefinition<any, any>[];
  log?: Logger;
  /** How often to look for sagas whose lease expired, once `startPolling()` ran (default 1000). */
  pollMs?: number;
  /** How long a saga stays claimed without renewal (default 30 000); renewed every third of it. */
  leaseMs?: number;
  /** Sagas run at once by this orchestrator; more wait in the database for a free slot (default 64). */
  maxConcurrent?: number;
  /** Cap of every backoff (default 30 000). */
  maxBackoffMs?: number;
  compensation?: Partial<CompensationPolicy>;
  /** How long `close()` lets attempts in flight finish (default 10 000). */
  drainMs?: number;
  /** Names this orchestrator in `lease_owner` (default a random UUID). */
  owner?: string;
}

export interface StartOptions {
  /** Idempotency: starting an id that exists returns that saga and starts nothing (default a random UUID). */
  id?: string;
}
