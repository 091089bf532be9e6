import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { createLogger } from "../log/logger.ts";
import { backoff, describeError, runAttempt } from "./attempt.ts";
import { sagaErrors } from "./errors.ts";
import { type SagaRow, SagaStore, type Transition, toSummary } from "./store.ts";
import type {
  CompensationPolicy,
  SagaDefinition,
  SagaOrchestratorOptions,
  SagaState,
  SagaStatus,
  SagaStep,
  SagaSummary,
  StartOptions,
  StepContext,
  StepPhase,
} from "./types.ts";

type AnySaga = SagaDefinition<unknown, Record<string, unknown>>;
type AnyStep = SagaStep<unknown, Record<string, unknown>>;

interface Running {
  /** Aborted when this orchestrator must stop touching the saga (lease lost, shutdown). */
  halt: AbortController;
  done: Promise<void>;
}

/** How a phase of a step ended: succeeded, failed for good, or interrupted (stop, lease lost). */
type PhaseOutcome = { ok: true; value: unknown } | { ok: false; error: unknown; timedOut: boolean; attempts: number } | { stopped: true };

const TERMINAL: ReadonlySet<SagaStatus> = new Set(["completed", "compensated", "failed_compensation"]);
const ID = /^[\x21-\x7e]{1,200}$/;

/**
 * Runs sagas in the service's own database (apply `sagaMigrations` first).
 *
 *   const sagas = new SagaOrchestrator({ db, sagas: [booking], log });
 *   await sagas.startPolling();                 // resume what a dead replica left
 *   const { id } = await sagas.start("book-ticket", input, { id: requestId });
 *   const state = await sagas.wait(id);         // or get(id) later
 *   await sagas.close();                        // on shutdown
 *
 * A saga started here is run here at once. Each saga is leased: the
 * orchestrator running it renews the lease; when a process dies, another
 * orchestrator (polling) claims the saga once the lease expired and continues
 * from the last recorded step. A step whose completion is recorded never runs
 * again; a step that was in flight runs again with the same idempotency key.
 */
export class SagaOrchestrator {
  /** This orchestrator's name in `lease_owner`. */
  readonly owner: string;
  readonly #store: SagaStore;
  readonly #sagas = new Map<string, AnySaga>();
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #maxConcurrent: number;
  readonly #maxBackoffMs: number;
  readonly #compensation: CompensationPolicy;
  readonly #drainMs: number;
  readonly #running = new Map<string, Running>();
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Aborted at close(): no new work, backoff waits end. */
  readonly #draining = new AbortController();
  readonly #renewTimer: NodeJS.Timeout;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;
  /** Sagas may be waiting in the table for a free slot here. */
  #backlog = false;
  #passInFlight: Promise<string[]> | undefined;
  #closed: Promise<void> | undefined;
  /** Set by abort(): nothing more is written, as if the process had died. */
  #dead = false;

  constructor(options: SagaOrchestratorOptions) {
    this.owner = options.owner ?? randomUUID();
    this.#pollMs = positive("pollMs", options.pollMs ?? 1_000);
    this.#leaseMs = positive("leaseMs", options.leaseMs ?? 30_000);
    this.#maxConcurrent = positive("maxConcurrent", options.maxConcurrent ?? 64);
    this.#maxBackoffMs = positive("maxBackoffMs", options.maxBackoffMs ?? 30_000);
    this.#drainMs = positive("drainMs", options.drainMs ?? 10_000, true);
    this.#compensation = {
      attempts: positive("compensation.attempts", options.compensation?.attempts ?? 25),
      backoffMs: positive("compensation.backoffMs", options.compensation?.backoffMs ?? 250, true),
    };
    this.#log = options.log ?? createLogger("saga");
    for (const saga of options.sagas) {
      if (this.#sagas.has(saga.name)) throw sagaErrors.create("SAGA_ERR_INVALID_DEFINITION", `saga "${saga.name}" is registered twice`);
      this.#sagas.set(saga.name, saga as AnySaga);
    }
    this.#store = new SagaStore(options.db, this.owner, this.#leaseMs);
    // One statement renews every saga run here, a third of the lease before it runs out.
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    this.#renewTimer.unref();
  }

  /**
   * Persists a new saga and starts running it. Idempotent by `id`: starting
   * an id that exists starts nothing and returns `created: false` (the first
   * input stands). Resolves once the saga is recorded, not when it ends.
   */
  async start(sagaName: string, input: unknown, options: StartOptions = {}): Promise<{ id: string; created: boolean }> {
    if (this.#draining.signal.aborted) throw sagaErrors.create("SAGA_ERR_CLOSED", "the saga orchestrator is closed");
    const saga = this.#sagas.get(sagaName);
    if (saga === undefined) throw sagaErrors.create("SAGA_ERR_UNKNOWN_SAGA", `no saga "${sagaName}" is registered`);
    const id = options.id ?? randomUUID();
    if (!ID.test(id)) throw sagaErrors.create("SAGA_ERR_INVALID_INPUT", `saga id "${id}" must be 1 to 200 printable ASCII characters`);
    const text = toJson(input, `input of saga "${sagaName}"`);
    // Past the limit the saga waits in the table, unclaimed, for a poll.
    const claim = this.#running.size < this.#maxConcurrent;
    if (!claim) this.#backlog = true;
    const inserted = await this.#store.insert(id, sagaName, text, claim);
    if (!inserted.created) {
      if (inserted.name !== sagaName) {
        throw sagaErrors.create("SAGA_ERR_ID_CONFLICT", `saga id "${id}" already belongs to a saga "${inserted.name}", not "${sagaName}"`);
      }
      return { id, created: false };
    }
    this.#log.debug({ sagaId: id, saga: sagaName }, "saga started");
    if (claim) this.#launch({ id, name: sagaName, status: "running", input: JSON.parse(text), stepIndex: 0, results: {}, error: null });
    return { id, created: true };
  }

  /** A saga's state and step history; SAGA_ERR_NOT_FOUND when no saga has that id. */
  async get(id: string): Promise<SagaState> {
    const found = await this.#store.get(id);
    if (found === undefined) throw sagaErrors.create("SAGA_ERR_NOT_FOUND", `no saga ${id}`);
    return { ...toSummary(found.saga, this.#stepName(found.saga.name)), input: found.saga.input, results: found.saga.results ?? {}, steps: found.steps };
  }

  /** Sagas, newest first, optionally of one status or saga name (ops console: `{ status: "failed_compensation" }`). */
  async list(filter: { status?: SagaStatus; name?: string; limit?: number } = {}): Promise<SagaSummary[]> {
    const rows = await this.#store.list({ ...filter, limit: filter.limit ?? 100 });
    return rows.map((r) => toSummary(r, this.#stepName(r.name)));
  }

  /** Resolves with the saga's state once it has ended (completed, compensated or failed_compensation). */
  async wait(id: string, options: { timeoutMs?: number } = {}): Promise<SagaState> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.get(id);
      if (TERMINAL.has(state.status)) return state;
      const left = deadline - Date.now();
      if (left <= 0) throw sagaErrors.create("SAGA_ERR_WAIT_TIMEOUT", `saga ${id} is still ${state.status} after ${timeoutMs} ms`);
      // Woken early by a change made here; a change made by another replica is seen at the next poll.
      await this.#changed(id, Math.min(left, this.#pollMs));
    }
  }

  /**
   * Claims sagas whose lease expired (their orchestrator died or stopped)
   * and runs them from their recorded step. Returns the ids claimed.
   */
  async resume(): Promise<string[]> {
    if (this.#draining.signal.aborted) return [];
    // One pass at a time: a pass started while one runs shares its result.
    this.#passInFlight ??= this.#claimPass().finally(() => (this.#passInFlight = undefined));
    return this.#passInFlight;
  }

  /**
   * Runs `resume()` now and then every `pollMs` until `close()`. The first
   * pass's error is thrown (the tables are missing, say); later ones are logged.
   */
  async startPolling(): Promise<void> {
    if (this.#polling || this.#draining.signal.aborted) return;
    this.#polling = true;
    try {
      await this.resume();
    } finally {
      this.#schedulePoll();
    }
  }

  /**
   * Sends a `failed_compensation` saga back to compensating, with a fresh
   * attempt budget for the compensation that failed; it runs at the next poll.
   * Returns false when the saga is not in failed_compensation.
   */
  async retryCompensation(id: string): Promise<boolean> {
    const reopened = await this.#store.reopen(id);
    if (reopened) this.#log.info({ sagaId: id }, "saga compensation retried by request");
    return reopened;
  }

  /**
   * Stops: no new saga, no new step; attempts in flight get `drainMs` to
   * finish and be recorded, then are abandoned. Leases of unfinished sagas
   * are released so that another replica continues them at once.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  /**
   * For crash tests: stops at once as if the process had been killed. Nothing
   * more is written, no lease is released; attempts in flight are abandoned.
   */
  abort(): void {
    this.#dead = true;
    this.#draining.abort();
    clearInterval(this.#renewTimer);
    clearTimeout(this.#pollTimer);
    for (const running of this.#running.values()) running.halt.abort();
  }

  async #close(): Promise<void> {
    this.#draining.abort();
    clearTimeout(this.#pollTimer);
    const all = () => Promise.allSettled([...this.#running.values()].map((r) => r.done));
    const timer = sleep(this.#drainMs, undefined, { ref: false });
    await Promise.race([all(), timer]);
    for (const running of this.#running.values()) running.halt.abort();
    await all();
    clearInterval(this.#renewTimer);
  }

  async #claimPass(): Promise<string[]> {
    const free = this.#maxConcurrent - this.#running.size;
    if (free <= 0 || this.#sagas.size === 0) return [];
    const rows = await this.#store.claim([...this.#sagas.keys()], free);
    if (rows.length >= free) this.#backlog = true;
    const claimed: string[] = [];
    for (const row of rows) {
      // Still running here (the lease ran out while renewals failed): the claim just extended it.
      if (this.#running.has(row.id)) continue;
      this.#log.info({ sagaId: row.id, saga: row.name, status: row.status, step: row.stepIndex }, "saga resumed");
      this.#launch(row);
      claimed.push(row.id);
    }
    return claimed;
  }

  #schedulePoll(delay = this.#pollMs): void {
    if (this.#draining.signal.aborted) return;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => {
      this.resume()
        .catch((error: unknown) => this.#log.warn({ err: error }, "saga poll failed"))
        .finally(() => this.#schedulePoll());
    }, delay);
    this.#pollTimer.unref();
  }

  #launch(row: SagaRow): void {
    const halt = new AbortController();
    const running: Running = { halt, done: Promise.resolve() };
    this.#running.set(row.id, running);
    running.done = this.#drive(row, halt.signal)
      .catch((error: unknown) => {
        if (this.#dead) return;
        if (sagaErrors.is(error, "SAGA_ERR_LEASE_LOST")) this.#log.warn({ sagaId: row.id }, "saga lease lost; another orchestrator continues it");
        else this.#log.error({ err: error, sagaId: row.id }, "saga stopped on an error; it resumes when its lease expires");
      })
      .finally(() => {
        this.#running.delete(row.id);
        // A slot is free: sagas waiting past the limit need not wait for the next poll.
        if (this.#polling && this.#backlog) {
          this.#backlog = false;
          this.#schedulePoll(0);
        }
      });
  }

  /** Runs one saga from its recorded state until it ends or this orchestrator must stop. */
  async #drive(row: SagaRow, halt: AbortSignal): Promise<void> {
    const saga = this.#sagas.get(row.name)!;
    const steps = saga.steps as readonly AnyStep[];
    const state = { ...row };
    while (!this.#stopping(halt)) {
      const step = steps[state.stepIndex];
      if (state.status === "running" && step === undefined) {
        // Only when the definition lost steps since this saga started.
        await this.#store.finish(state.id, "completed", `saga "${saga.name}" has no step ${state.stepIndex + 1} any more`);
        this.#notify(state.id);
        return;
      }
      if (state.status === "compensating" && step === undefined) {
        await this.#store.finish(state.id, "failed_compensation", `saga "${saga.name}" has no step ${state.stepIndex + 1} to compensate any more`);
        this.#notify(state.id);
        return;
      }
      if (step === undefined) return;
      const next = state.status === "running" ? await this.#forward(state, step, halt) : await this.#backward(state, step, halt);
      if (next === undefined) break;
      await this.#store.transition(state.id, next);
      Object.assign(state, { status: next.status, stepIndex: next.stepIndex });
      if (next.phase === "run" && next.stepStatus === "succeeded") state.results = { ...state.results, [step.name]: JSON.parse(next.result!) };
      if (next.sagaError !== null) state.error = next.sagaError;
      this.#notify(state.id);
      if (TERMINAL.has(next.status)) {
        this.#report(state, next);
        return;
      }
    }
    // Stopped before the end: let another replica take over without waiting for the lease.
    if (!this.#dead) await this.#store.release(state.id);
  }

  /** Runs a step forward; returns where the saga goes, or undefined when stopped. */
  async #forward(state: SagaRow, step: AnyStep, halt: AbortSignal): Promise<Transition | undefined> {
    const n = this.#sagas.get(state.name)!.steps.length;
    const i = state.stepIndex;
    const outcome = await this.#phase(state, step, "run", step.run, step.retry ?? { attempts: 1, backoffMs: 0 }, halt);
    if ("stopped" in outcome) return undefined;
    if (outcome.ok) {
      const last = i + 1 >= n;
      return {
        step: step.name,
        phase: "run",
        stepStatus: "succeeded",
        result: outcome.value as string,
        stepError: null,
        status: last ? "completed" : "running",
        stepIndex: last ? n : i + 1,
        sagaError: null,
      };
    }
    // A step whose last attempt timed out may have taken effect: undo it too.
    const from = outcome.timedOut ? i : i - 1;
    const message = describeError(outcome.error);
    this.#log.warn({ sagaId: state.id, step: step.name, attempts: outcome.attempts, err: outcome.error }, "saga step failed; compensating");
    return {
      step: step.name,
      phase: "run",
      stepStatus: "failed",
      result: null,
      stepError: message,
      status: from >= 0 ? "compensating" : "compensated",
      stepIndex: from,
      sagaError: `step "${step.name}" failed after ${outcome.attempts} attempt(s): ${message}`,
    };
  }

  /** Compensates a step; returns where the saga goes, or undefined when stopped. */
  async #backward(state: SagaRow, step: AnyStep, halt: AbortSignal): Promise<Transition | undefined> {
    const j = state.stepIndex;
    const done = (stepStatus: "succeeded" | "skipped"): Transition => ({
      step: step.name,
      phase: "compensate",
      stepStatus,
      result: null,
      stepError: null,
      status: j - 1 >= 0 ? "compensating" : "compensated",
      stepIndex: j - 1,
      sagaError: null,
    });
    if (step.compensate === "none") return done("skipped");
    const outcome = await this.#phase(state, step, "compensate", step.compensate, this.#compensation, halt);
    if ("stopped" in outcome) return undefined;
    if (outcome.ok) return done("succeeded");
    const message = describeError(outcome.error);
    return {
      step: step.name,
      phase: "compensate",
      stepStatus: "failed",
      result: null,
      stepError: message,
      status: "failed_compensation",
      stepIndex: j,
      sagaError: `${state.error ?? "compensating"}; then compensation of "${step.name}" failed after ${outcome.attempts} attempt(s): ${message}`,
    };
  }

  /** Attempts one phase of a step with its retries; each attempt is recorded before it starts. */
  async #phase(
    state: SagaRow,
    step: AnyStep,
    phase: StepPhase,
    fn: (ctx: StepContext<unknown, Record<string, unknown>>) => Promise<unknown>,
    retry: { attempts: number; backoffMs: number },
    halt: AbortSignal,
  ): Promise<PhaseOutcome> {
    for (;;) {
      if (this.#stopping(halt)) return { stopped: true };
      const attempt = await this.#store.beginAttempt(state.id, step.name, phase);
      if (this.#dead || halt.aborted) return { stopped: true };
      const ctxFor = (signal: AbortSignal): StepContext<unknown, Record<string, unknown>> => ({
        sagaId: state.id,
        saga: state.name,
        step: step.name,
        phase,
        input: state.input,
        results: state.results,
        idempotencyKey: `${state.id}:${step.name}:${phase}`,
        attempt,
        signal,
      });
      const outcome = await runAttempt(
        async (signal) => {
          const value = await fn(ctxFor(signal));
          // Serialised inside the attempt: a result that cannot be stored is a failed attempt.
          return phase === "run" ? toJson(value, `result of step "${step.name}"`) : null;
        },
        step.timeoutMs,
        halt,
      );
      // Halted (lease lost, shutdown past its drain, abort): whatever happened is not ours to record.
      if (this.#dead || halt.aborted) return { stopped: true };
      if (outcome.ok) return { ok: true, value: outcome.value };
      // attempt can exceed the budget after a crash: the interrupted attempt is always re-run once.
      if (attempt >= retry.attempts) return { ok: false, error: outcome.error, timedOut: outcome.timedOut, attempts: attempt };
      await this.#store.attemptFailed(state.id, step.name, phase, describeError(outcome.error));
      this.#log.debug({ sagaId: state.id, step: step.name, phase, attempt, err: outcome.error }, "saga step attempt failed; retrying");
      try {
        await sleep(backoff(retry.backoffMs, attempt, this.#maxBackoffMs), undefined, { signal: AbortSignal.any([this.#draining.signal, halt]) });
      } catch {
        return { stopped: true };
      }
    }
  }

  #stopping(halt: AbortSignal): boolean {
    return this.#dead || halt.aborted || this.#draining.signal.aborted;
  }

  #report(state: SagaRow, last: Transition): void {
    const fields = { sagaId: state.id, saga: state.name, status: last.status, step: last.step };
    if (last.status === "failed_compensation") this.#log.error({ ...fields, error: last.sagaError }, "saga compensation failed: needs an operator");
    else this.#log.info(fields, `saga ${last.status}`);
  }

  async #renew(): Promise<void> {
    if (this.#dead || this.#running.size === 0) return;
    const ids = [...this.#running.keys()];
    try {
      const held = await this.#store.renew(ids);
      if (this.#dead) return;
      for (const id of ids) {
        const running = this.#running.get(id);
        // Ended meanwhile (its final write cleared the lease), or taken over: in both cases stop touching it.
        if (running !== undefined && !held.has(id)) running.halt.abort();
      }
    } catch (error) {
      this.#log.warn({ err: error }, "saga lease renewal failed");
    }
  }

  #stepName(sagaName: string): (index: number) => string | undefined {
    const saga = this.#sagas.get(sagaName);
    return (index) => saga?.steps[index]?.name;
  }

  #changed(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  #notify(id: string): void {
    for (const wake of [...(this.#waiters.get(id) ?? [])]) wake();
  }
}

function positive(name: string, value: number, zero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!zero && value === 0)) {
    throw sagaErrors.create("SAGA_ERR_INVALID_DEFINITION", `orchestrator option ${name} must be a ${zero ? "non-negative" : "positive"} number`);
  }
  return value;
}

function toJson(value: unknown, what: string): string {
  try {
    // undefined and functions have no JSON form: stored as null, as JSON.stringify drops them in objects.
    return JSON.stringify(value ?? null) ?? "null";
  } catch (cause) {
    throw sagaErrors.create("SAGA_ERR_INVALID_INPUT", `${what} is not JSON-serialisable`, { cause });
  }
}
