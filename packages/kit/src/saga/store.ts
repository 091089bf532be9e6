// The saga tables, read and written in single statements: each step costs two
// (its attempt, its outcome), and a state change is never half-written.
import type { Queryable } from "../db/types.ts";
import { sagaErrors } from "./errors.ts";
import type { SagaStatus, SagaSummary, StepPhase, StepRecord, StepStatus } from "./types.ts";

/** A saga as the orchestrator needs it to run. */
export interface SagaRow {
  id: string;
  name: string;
  status: SagaStatus;
  input: unknown;
  stepIndex: number;
  results: Record<string, unknown>;
  error: string | null;
}

/** A phase of a step ending, and where the saga goes from there. */
export interface Transition {
  step: string;
  phase: StepPhase;
  stepStatus: Exclude<StepStatus, "running">;
  /** JSON text of the result, for a succeeded `run`. */
  result: string | null;
  stepError: string | null;
  status: SagaStatus;
  stepIndex: number;
  /** Replaces the saga's error when set. */
  sagaError: string | null;
}

interface RawSaga extends Record<string, unknown> {
  id: string;
  name: string;
  status: SagaStatus;
  input: unknown;
  step_index: number;
  results: Record<string, unknown>;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  lease_owner: string | null;
  lease_until: Date | null;
}

interface RawStep extends Record<string, unknown> {
  step: string;
  phase: StepPhase;
  status: StepStatus;
  attempts: number;
  result: unknown;
  error: string | null;
  started_at: Date;
  ended_at: Date | null;
}

const LIVE = "('running', 'compensating')";
const LEASE = "now() + $LEASE::int * interval '1 millisecond'";
const lease = (param: number) => LEASE.replace("$LEASE", `$${param}`);

export class SagaStore {
  readonly #db: Queryable;
  readonly #owner: string;
  readonly #leaseMs: number;

  constructor(db: Queryable, owner: string, leaseMs: number) {
    this.#db = db;
    this.#owner = owner;
    this.#leaseMs = leaseMs;
  }

  /** Creates the saga unless its id exists; claimed by this orchestrator when `claim`. */
  async insert(id: string, name: string, input: string, claim: boolean): Promise<{ created: true } | { created: false; name: string }> {
    const inserted = await this.#db.query(
      `INSERT INTO flotilla_sagas (id, name, status, input, step_index, lease_owner, lease_until)
       VALUES ($1, $2, 'running', $3::text::jsonb, 0, $4::text, CASE WHEN $4::text IS NULL THEN NULL ELSE ${lease(5)} END)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [id, name, input, claim ? this.#owner : null, this.#leaseMs],
    );
    if (inserted.length > 0) return { created: true };
    const [row] = await this.#db.query<{ name: string }>("SELECT name FROM flotilla_sagas WHERE id = $1", [id]);
    // Deleted in between: as good as a conflict nobody can resolve here.
    return { created: false, name: row?.name ?? "" };
  }

  /**
   * Takes over live sagas of the given names whose lease expired (or was
   * released). SKIP LOCKED: two replicas claiming at once split the rows.
   */
  async claim(names: readonly string[], limit: number): Promise<SagaRow[]> {
    const rows = await this.#db.query<RawSaga>(
      `UPDATE flotilla_sagas SET lease_owner = $1, lease_until = ${lease(2)}
       WHERE id IN (
         SELECT id FROM flotilla_sagas
         WHERE status IN ${LIVE} AND (lease_until IS NULL OR lease_until < now())
           AND name IN (SELECT jsonb_array_elements_text($3::text::jsonb))
         ORDER BY lease_until NULLS FIRST, created_at
         LIMIT $4::int
         FOR UPDATE SKIP LOCKED)
       RETURNING id, name, status, input, step_index, results, error`,
      [this.#owner, this.#leaseMs, JSON.stringify(names), limit],
    );
    return rows.map(toRow);
  }

  /** Extends the lease of the sagas this orchestrator runs; returns those it still holds. */
  async renew(ids: readonly string[]): Promise<Set<string>> {
    const rows = await this.#db.query<{ id: string }>(
      `UPDATE flotilla_sagas SET lease_until = ${lease(2)}
       WHERE lease_owner = $1 AND status IN ${LIVE} AND id IN (SELECT jsonb_array_elements_text($3::text::jsonb))
       RETURNING id`,
      [this.#owner, this.#leaseMs, JSON.stringify(ids)],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Lets another replica take the saga at once (graceful stop). */
  async release(id: string): Promise<void> {
    await this.#db.query("UPDATE flotilla_sagas SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2", [id, this.#owner]);
  }

  /** Records that an attempt starts; returns its number (1-based, across crashes). */
  async beginAttempt(id: string, step: string, phase: StepPhase): Promise<number> {
    // The saga row is locked so that a claim by another replica cannot slip in between.
    const rows = await this.#db.query<{ attempts: number }>(
      `WITH fence AS (SELECT id FROM flotilla_sagas WHERE id = $1 AND lease_owner = $2 FOR UPDATE)
       INSERT INTO flotilla_saga_steps (saga_id, step, phase, status, attempts)
       SELECT id, $3, $4, 'running', 1 FROM fence
       ON CONFLICT (saga_id, step, phase)
         DO UPDATE SET attempts = flotilla_saga_steps.attempts + 1, status = 'running', ended_at = NULL
       RETURNING attempts`,
      [id, this.#owner, step, phase],
    );
    const row = rows[0];
    if (row === undefined) throw this.#lost(id);
    return row.attempts;
  }

  /** Keeps the last error of an attempt that will be retried, for whoever looks meanwhile. */
  async attemptFailed(id: string, step: string, phase: StepPhase, error: string): Promise<void> {
    const rows = await this.#db.query(
      `UPDATE flotilla_saga_steps st SET error = $5 FROM flotilla_sagas s
       WHERE s.id = $1 AND s.lease_owner = $2 AND st.saga_id = s.id AND st.step = $3 AND st.phase = $4
       RETURNING st.saga_id`,
      [id, this.#owner, step, phase, error],
    );
    if (rows.length === 0) throw this.#lost(id);
  }

  /**
   * Records a phase's outcome and moves the saga on, in one statement fenced
   * by the lease: a replica that lost the saga writes nothing.
   */
  async transition(id: string, t: Transition): Promise<void> {
    const rows = await this.#db.query(
      `WITH saga AS (
         UPDATE flotilla_sagas SET
           results = CASE WHEN $4 = 'run' AND $5 = 'succeeded' THEN results || jsonb_build_object($3::text, $6::text::jsonb) ELSE results END,
           status = $8, step_index = $9::int, error = COALESCE($10::text, error), updated_at = now(),
           lease_owner = CASE WHEN $8 IN ${LIVE} THEN lease_owner END,
           lease_until = CASE WHEN $8 IN ${LIVE} THEN lease_until END
         WHERE id = $1 AND lease_owner = $2
         RETURNING id)
       INSERT INTO flotilla_saga_steps (saga_id, step, phase, status, attempts, result, error, ended_at)
       SELECT id, $3, $4, $5, 0, $6::text::jsonb, $7::text, clock_timestamp() FROM saga
       ON CONFLICT (saga_id, step, phase)
         DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error, ended_at = EXCLUDED.ended_at
       RETURNING saga_id`,
      [id, this.#owner, t.step, t.phase, t.stepStatus, t.result, t.stepError, t.status, t.stepIndex, t.sagaError],
    );
    if (rows.length === 0) throw this.#lost(id);
  }

  /** Ends a live saga without a step (its definition lost steps since it started). */
  async finish(id: string, status: SagaStatus, error: string): Promise<void> {
    const rows = await this.#db.query(
      `UPDATE flotilla_sagas SET status = $3, error = $4, updated_at = now(), lease_owner = NULL, lease_until = NULL
       WHERE id = $1 AND lease_owner = $2 RETURNING id`,
      [id, this.#owner, status, error],
    );
    if (rows.length === 0) throw this.#lost(id);
  }

  /** Puts a `failed_compensation` saga back to compensating, its failed compensation with a fresh budget. */
  async reopen(id: string): Promise<boolean> {
    const rows = await this.#db.query(
      `WITH s AS (
         UPDATE flotilla_sagas SET status = 'compensating', lease_owner = NULL, lease_until = NULL, updated_at = now()
         WHERE id = $1 AND status = 'failed_compensation' RETURNING id),
       st AS (
         UPDATE flotilla_saga_steps SET attempts = 0, status = 'running', ended_at = NULL
         WHERE saga_id IN (SELECT id FROM s) AND phase = 'compensate' AND status = 'failed')
       SELECT id FROM s`,
      [id],
    );
    return rows.length > 0;
  }

  async get(id: string): Promise<{ saga: RawSaga; steps: StepRecord[] } | undefined> {
    const [saga] = await this.#db.query<RawSaga>("SELECT * FROM flotilla_sagas WHERE id = $1", [id]);
    if (saga === undefined) return undefined;
    const steps = await this.#db.query<RawStep>(
      `SELECT step, phase, status, attempts, result, error, started_at, ended_at FROM flotilla_saga_steps
       WHERE saga_id = $1 ORDER BY started_at, phase DESC`,
      [id],
    );
    return {
      saga,
      steps: steps.map((s) => ({
        step: s.step,
        phase: s.phase,
        status: s.status,
        attempts: s.attempts,
        result: s.result ?? null,
        error: s.error,
        startedAt: s.started_at,
        endedAt: s.ended_at,
      })),
    };
  }

  async list(filter: { status?: SagaStatus; name?: string; limit: number }): Promise<RawSaga[]> {
    return this.#db.query<RawSaga>(
      `SELECT id, name, status, step_index, error, created_at, updated_at, lease_owner, lease_until FROM flotilla_sagas
       WHERE ($1::text IS NULL OR status = $1::text) AND ($2::text IS NULL OR name = $2::text)
       ORDER BY created_at DESC, id LIMIT $3::int`,
      [filter.status ?? null, filter.name ?? null, filter.limit],
    );
  }

  #lost(id: string) {
    return sagaErrors.create("SAGA_ERR_LEASE_LOST", `saga ${id}: lease of ${this.#owner} lost`);
  }
}

function toRow(r: RawSaga): SagaRow {
  return { id: r.id, name: r.name, status: r.status, input: r.input, stepIndex: r.step_index, results: r.results ?? {}, error: r.error };
}

/** The summary of a stored saga; `stepName` resolves its current step from the definition. */
export function toSummary(r: RawSaga, stepName: (index: number) => string | undefined): SagaSummary {
  const live = r.status === "running" || r.status === "compensating";
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    currentStep: live ? (stepName(r.step_index) ?? null) : null,
    stepIndex: r.step_index,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
  };
}
