// The orchestrator's behaviour, run by one test file per database backend:
//   sagaSuite("pglite", async () => new PgliteProvider());
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { migrate } from "../db/migrate.ts";
import type { Database, DatabaseProvider } from "../db/types.ts";
import { defineSaga } from "./define-saga.ts";
import { sagaErrors } from "./errors.ts";
import { sagaMigrations } from "./migrations.ts";
import { SagaOrchestrator } from "./orchestrator.ts";
import type { SagaOrchestratorOptions, SagaStep, StepContext } from "./types.ts";

const LEASE_MS = 300;
const POLL_MS = 25;
const silent = pino({ level: "silent" });

// Every call a step makes is a row in saga_calls; its effect is a row in
// saga_effects keyed by the idempotency key, as a remote service that honours
// an Idempotency-Key would keep it. Calls may repeat; effects may not.
const testTables = {
  id: "test_0001_calls_and_effects",
  sql: `CREATE TABLE saga_calls (seq serial PRIMARY KEY, key text NOT NULL, attempt integer NOT NULL);
        CREATE TABLE saga_effects (key text PRIMARY KEY, calls integer NOT NULL DEFAULT 1);`,
};

type Ctx = StepContext<unknown, Record<string, unknown>>;
type Step = SagaStep<unknown, Record<string, unknown>>;

async function effect(db: Database, ctx: Ctx): Promise<void> {
  await db.query("INSERT INTO saga_calls (key, attempt) VALUES ($1, $2)", [ctx.idempotencyKey, ctx.attempt]);
  await db.query("INSERT INTO saga_effects (key) VALUES ($1) ON CONFLICT (key) DO UPDATE SET calls = saga_effects.calls + 1", [
    ctx.idempotencyKey,
  ]);
}

/** A step that records its call and effect; `run` returns `{ step }` unless `behave` says otherwise. */
function step(db: Database, name: string, extra: Partial<Step> & { behave?: (ctx: Ctx) => Promise<unknown> } = {}): Step {
  const { behave, ...rest } = extra;
  return {
    name,
    run: async (ctx) => {
      await effect(db, ctx);
      return behave ? behave(ctx) : { step: name };
    },
    compensate: async (ctx) => effect(db, ctx),
    ...rest,
  };
}

async function calls(db: Database): Promise<string[]> {
  return (await db.query<{ key: string }>("SELECT key FROM saga_calls ORDER BY seq")).map((r) => r.key);
}

async function effectCalls(db: Database): Promise<Record<string, number>> {
  const rows = await db.query<{ key: string; calls: number }>("SELECT key, calls FROM saga_effects ORDER BY key");
  return Object.fromEntries(rows.map((r) => [r.key, r.calls]));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sagaSuite(name: string, makeProvider: () => Promise<DatabaseProvider>): void {
  describe(`sagas on ${name}`, () => {
    let provider: DatabaseProvider;
    let counter = 0;
    const orchestrators: SagaOrchestrator[] = [];

    before(async () => {
      provider = await makeProvider();
    });
    after(async () => {
      await Promise.all(orchestrators.map((o) => o.close()));
      await provider.close();
    });

    async function fresh(tag: string): Promise<Database> {
      const db = await provider.open(`saga${++counter}-${tag}`);
      await migrate(db, [...sagaMigrations, testTables]);
      return db;
    }

    function orchestrator(db: Database, sagas: SagaOrchestratorOptions["sagas"], options: Partial<SagaOrchestratorOptions> = {}) {
      const o = new SagaOrchestrator({ db, sagas, log: silent, pollMs: POLL_MS, leaseMs: LEASE_MS, ...options });
      orchestrators.push(o);
      return o;
    }

    it("runs the steps in order, each given the results before it, and records every result", async () => {
      const db = await fresh("happy");
      const seen: Record<string, unknown>[] = [];
      const saga = defineSaga<{ seat: string }>({
        name: "book",
        steps: [
          step(db, "hold", { behave: async (c) => ({ held: (c.input as { seat: string }).seat }) }),
          step(db, "charge", {
            behave: async (c) => {
              seen.push({ ...c.results });
              return { charged: 42 };
            },
          }),
          step(db, "issue", { compensate: "none", behave: async () => "ticket-1" }),
        ],
      });
      const o = orchestrator(db, [saga]);
      const { id, created } = await o.start("book", { seat: "12A" }, { id: "booking-1" });
      assert.deepEqual([id, created], ["booking-1", true]);
      const state = await o.wait(id);
      assert.equal(state.status, "completed");
      assert.equal(state.currentStep, null);
      assert.equal(state.error, null);
      assert.equal(state.leaseOwner, null);
      assert.deepEqual(state.input, { seat: "12A" });
      assert.deepEqual(state.results, { hold: { held: "12A" }, charge: { charged: 42 }, issue: "ticket-1" });
      assert.deepEqual(seen, [{ hold: { held: "12A" } }]);
      assert.deepEqual(
        state.steps.map((s) => [s.step, s.phase, s.status, s.attempts, s.result]),
        [
          ["hold", "run", "succeeded", 1, { held: "12A" }],
          ["charge", "run", "succeeded", 1, { charged: 42 }],
          ["issue", "run", "succeeded", 1, "ticket-1"],
        ],
      );
      assert.ok(state.steps.every((s) => s.endedAt !== null && s.endedAt >= s.startedAt));
      assert.deepEqual(await calls(db), ["booking-1:hold:run", "booking-1:charge:run", "booking-1:issue:run"]);
      assert.deepEqual(
        (await o.list({ status: "completed" })).map((s) => s.id),
        ["booking-1"],
      );
      assert.deepEqual(await o.list({ status: "running" }), []);
    });

    it("compensates the completed steps in reverse order when a step fails", async () => {
      const db = await fresh("fail");
      const saga = defineSaga({
        name: "book",
        steps: [
          step(db, "s1"),
          step(db, "s2"),
          step(db, "s3", {
            behave: async () => {
              throw new Error("payment declined");
            },
          }),
          step(db, "s4"),
        ],
      });
      const o = orchestrator(db, [saga]);
      const { id } = await o.start("book", {}, { id: "b-fail" });
      const state = await o.wait(id);
      assert.equal(state.status, "compensated");
      assert.equal(state.stepIndex, -1);
      assert.match(state.error ?? "", /step "s3" failed after 1 attempt\(s\): payment declined/);
      assert.deepEqual(await calls(db), ["b-fail:s1:run", "b-fail:s2:run", "b-fail:s3:run", "b-fail:s2:compensate", "b-fail:s1:compensate"]);
      assert.deepEqual(
        state.steps.map((s) => [s.step, s.phase, s.status]),
        [
          ["s1", "run", "succeeded"],
          ["s2", "run", "succeeded"],
          ["s3", "run", "failed"],
          ["s2", "compensate", "succeeded"],
          ["s1", "compensate", "succeeded"],
        ],
      );
      assert.equal(state.steps[2]!.error, "payment declined");
      // Results of the undone steps stay on record for the history.
      assert.deepEqual(Object.keys(state.results), ["s1", "s2"]);
    });

    it('skips a compensation declared "none" and records that it did', async () => {
      const db = await fresh("none");
      const saga = defineSaga({
        name: "notify",
        steps: [step(db, "read", { compensate: "none" }), step(db, "write", { behave: () => Promise.reject(new Error("nope")) })],
      });
      const o = orchestrator(db, [saga]);
      const state = await o.wait((await o.start("notify", null)).id);
      assert.equal(state.status, "compensated");
      assert.deepEqual(state.steps.at(-1), { ...state.steps.at(-1), step: "read", phase: "compensate", status: "skipped", attempts: 0 });
    });

    it("retries a failing step with the same key, then goes on", async () => {
      const db = await fresh("retry");
      const attempts: number[] = [];
      const saga = defineSaga({
        name: "flaky",
        steps: [
          step(db, "call", {
            retry: { attempts: 4, backoffMs: 5 },
            behave: async (c) => {
              attempts.push(c.attempt);
              if (c.attempt < 3) throw new Error(`unavailable ${c.attempt}`);
              return "ok";
            },
          }),
        ],
      });
      const o = orchestrator(db, [saga]);
      const state = await o.wait((await o.start("flaky", {}, { id: "r1" })).id);
      assert.equal(state.status, "completed");
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.deepEqual(await calls(db), ["r1:call:run", "r1:call:run", "r1:call:run"]);
      assert.deepEqual(await effectCalls(db), { "r1:call:run": 3 });
      assert.deepEqual(
        state.steps.map((s) => [s.step, s.status, s.attempts, s.error, s.result]),
        [["call", "succeeded", 3, null, "ok"]],
      );
    });

    it("gives up after the last retry and compensates", async () => {
      const db = await fresh("retry-out");
      const saga = defineSaga({
        name: "flaky",
        steps: [step(db, "a"), step(db, "b", { retry: { attempts: 2, backoffMs: 1 }, behave: () => Promise.reject(new Error("down")) })],
      });
      const o = orchestrator(db, [saga]);
      const state = await o.wait((await o.start("flaky", {}, { id: "r2" })).id);
      assert.equal(state.status, "compensated");
      assert.deepEqual(await calls(db), ["r2:a:run", "r2:b:run", "r2:b:run", "r2:a:compensate"]);
      assert.match(state.error ?? "", /after 2 attempt\(s\): down/);
    });

    it("treats a step past its timeout as failed, and undoes it too since it may have taken effect", async () => {
      const db = await fresh("timeout");
      let aborted = false;
      const saga = defineSaga({
        name: "slow",
        steps: [
          step(db, "a"),
          step(db, "b", {
            timeoutMs: 50,
            behave: (c) =>
              new Promise((resolve) => {
                const onAbort = () => {
                  aborted = true;
                  setTimeout(resolve, 5);
                };
                // Under load the deadline may pass before the step gets here.
                if (c.signal.aborted) onAbort();
                else c.signal.addEventListener("abort", onAbort);
              }),
          }),
          step(db, "c"),
        ],
      });
      const o = orchestrator(db, [saga]);
      const state = await o.wait((await o.start("slow", {}, { id: "t1" })).id);
      assert.equal(state.status, "compensated");
      assert.ok(aborted, "the step's signal is aborted at its deadline");
      assert.deepEqual(await calls(db), ["t1:a:run", "t1:b:run", "t1:b:compensate", "t1:a:compensate"]);
      assert.match(state.steps.find((s) => s.step === "b" && s.phase === "run")?.error ?? "", /SAGA_ERR_STEP_TIMEOUT/);
      assert.equal(state.results["b"], undefined);
    });

    it("starts one saga for one id, however often it is started", async () => {
      const db = await fresh("idem");
      const saga = defineSaga({ name: "once", steps: [step(db, "a")] });
      const other = defineSaga({ name: "other", steps: [step(db, "a")] });
      const o = orchestrator(db, [saga, other]);
      const results = await Promise.all([o.start("once", { n: 1 }, { id: "same" }), o.start("once", { n: 2 }, { id: "same" })]);
      assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
      assert.deepEqual(await o.start("once", { n: 3 }, { id: "same" }), { id: "same", created: false });
      const state = await o.wait("same");
      assert.equal(state.status, "completed");
      assert.equal((await o.list()).length, 1);
      assert.deepEqual(await calls(db), ["same:a:run"]);
      await assert.rejects(o.start("other", {}, { id: "same" }), (e) => sagaErrors.is(e, "SAGA_ERR_ID_CONFLICT"));
      await assert.rejects(o.start("missing", {}), (e) => sagaErrors.is(e, "SAGA_ERR_UNKNOWN_SAGA"));
      await assert.rejects(o.get("nope"), (e) => sagaErrors.is(e, "SAGA_ERR_NOT_FOUND"));
      await assert.rejects(o.start("once", { big: 1n }), (e) => sagaErrors.is(e, "SAGA_ERR_INVALID_INPUT"));
    });

    it("retries a compensation until it succeeds", async () => {
      const db = await fresh("comp-retry");
      let tries = 0;
      const saga = defineSaga({
        name: "undo",
        steps: [
          step(db, "a", {
            compensate: async (c) => {
              await effect(db, c);
              if (++tries < 4) throw new Error("refund service down");
            },
          }),
          step(db, "b", { behave: () => Promise.reject(new Error("no")) }),
        ],
      });
      const o = orchestrator(db, [saga], { compensation: { attempts: 10, backoffMs: 1 } });
      const state = await o.wait((await o.start("undo", {}, { id: "c1" })).id);
      assert.equal(state.status, "compensated");
      assert.deepEqual(await effectCalls(db), { "c1:a:compensate": 4, "c1:a:run": 1, "c1:b:run": 1 });
      assert.deepEqual(
        state.steps.filter((s) => s.phase === "compensate").map((s) => [s.step, s.status, s.attempts]),
        [["a", "succeeded", 4]],
      );
    });

    it("reports a compensation that keeps failing as failed_compensation, and can retry it", async () => {
      const db = await fresh("comp-fail");
      const lines: string[] = [];
      const log = pino(
        { level: "warn" },
        new Writable({
          write(chunk, _encoding, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      );
      let refundWorks = false;
      const saga = defineSaga({
        name: "undo",
        steps: [
          step(db, "a"),
          step(db, "b", {
            compensate: async (c) => {
              await effect(db, c);
              if (!refundWorks) throw new Error("refund rejected");
            },
          }),
          step(db, "c", { behave: () => Promise.reject(new Error("sold out")) }),
        ],
      });
      const o = orchestrator(db, [saga], { log, compensation: { attempts: 3, backoffMs: 1 } });
      const state = await o.wait((await o.start("undo", {}, { id: "f1" })).id);
      assert.equal(state.status, "failed_compensation");
      assert.equal(state.currentStep, null);
      assert.equal(state.stepIndex, 1);
      assert.match(state.error ?? "", /step "c" failed .*sold out; then compensation of "b" failed after 3 attempt\(s\): refund rejected/);
      assert.deepEqual(
        (await o.list({ status: "failed_compensation" })).map((s) => s.id),
        ["f1"],
      );
      // "a" was never compensated: the saga stops where the compensation failed.
      assert.deepEqual(await effectCalls(db), { "f1:a:run": 1, "f1:b:compensate": 3, "f1:b:run": 1, "f1:c:run": 1 });
      const report = lines.map((l) => JSON.parse(l) as { level: number; sagaId?: string; msg: string }).find((l) => l.sagaId === "f1" && l.level === 50);
      assert.match(report?.msg ?? "", /compensation failed/);

      refundWorks = true;
      assert.equal(await o.retryCompensation("f1"), true);
      assert.equal(await o.retryCompensation("f1"), false);
      assert.deepEqual(await o.resume(), ["f1"]);
      const retried = await o.wait("f1");
      assert.equal(retried.status, "compensated");
      assert.deepEqual(await effectCalls(db), { "f1:a:compensate": 1, "f1:a:run": 1, "f1:b:compensate": 4, "f1:b:run": 1, "f1:c:run": 1 });
    });

    it("resumes in a new orchestrator after a crash: recorded steps never rerun, the one in flight reruns with its key", async () => {
      const db = await fresh("crash");
      const make = (hang: boolean) =>
        defineSaga({
          name: "book",
          steps: [step(db, "s1"), step(db, "s2", { behave: async () => (hang ? new Promise(() => {}) : "charged") }), step(db, "s3")],
        });
      const a = orchestrator(db, [make(true)], { leaseMs: 1_000 });
      const { id } = await a.start("book", { seat: 1 }, { id: "k1" });
      await until("step 2 in flight", async () => (await calls(db)).includes("k1:s2:run"));
      const inFlight = await a.get(id);
      assert.deepEqual([inFlight.status, inFlight.currentStep, inFlight.stepIndex, inFlight.leaseOwner], ["running", "s2", 1, a.owner]);
      assert.deepEqual(Object.keys(inFlight.results), ["s1"]);
      a.abort(); // as kill -9: the lease stays until it expires

      const b = orchestrator(db, [make(false)]);
      assert.deepEqual(await b.resume(), [], "the lease of the dead orchestrator still holds");
      await b.startPolling();
      const state = await b.wait(id);
      assert.equal(state.status, "completed");
      assert.deepEqual(state.results, { s1: { step: "s1" }, s2: "charged", s3: { step: "s3" } });
      assert.deepEqual(await calls(db), ["k1:s1:run", "k1:s2:run", "k1:s2:run", "k1:s3:run"]);
      // Each effect once: s1 was never called again; s2's second call carried the same key.
      assert.deepEqual(await effectCalls(db), { "k1:s1:run": 1, "k1:s2:run": 2, "k1:s3:run": 1 });
      assert.deepEqual(
        state.steps.map((s) => [s.step, s.attempts]),
        [
          ["s1", 1],
          ["s2", 2],
          ["s3", 1],
        ],
      );
    });

    it("close() lets another replica continue at once, without waiting for the lease", async () => {
      const db = await fresh("close");
      const gate = Promise.withResolvers<void>();
      const make = (block: boolean) =>
        defineSaga({ name: "book", steps: [step(db, "s1", { behave: async () => (block ? gate.promise : "done") }), step(db, "s2")] });
      const a = orchestrator(db, [make(true)], { leaseMs: 60_000, drainMs: 20 });
      const { id } = await a.start("book", {});
      await until("step 1 in flight", async () => (await calls(db)).length === 1);
      await a.close();
      await assert.rejects(a.start("book", {}), (e) => sagaErrors.is(e, "SAGA_ERR_CLOSED"));
      assert.equal((await a.get(id)).leaseOwner, null);
      gate.resolve(); // the abandoned attempt finishing late records nothing
      const b = orchestrator(db, [make(false)], { leaseMs: 60_000 });
      assert.deepEqual(await b.resume(), [id]);
      const state = await b.wait(id);
      assert.equal(state.status, "completed");
      assert.equal(state.results["s1"], "done");
    });

    it("an orchestrator that lost its lease writes nothing more for that saga", async () => {
      const db = await fresh("fence");
      const gate = Promise.withResolvers<void>();
      const saga = defineSaga({ name: "book", steps: [step(db, "s1", { behave: async () => gate.promise }), step(db, "s2")] });
      const a = orchestrator(db, [saga], { leaseMs: 60_000 });
      const { id } = await a.start("book", {}, { id: "fenced" });
      await until("step 1 in flight", async () => (await calls(db)).length === 1);
      // Another replica took it over (as after a pause longer than the lease).
      await db.query("UPDATE flotilla_sagas SET lease_owner = 'other', lease_until = now() + interval '1 hour' WHERE id = $1", [id]);
      gate.resolve();
      await sleep(200);
      const state = await a.get(id);
      assert.deepEqual([state.status, state.stepIndex, state.leaseOwner], ["running", 0, "other"]);
      assert.deepEqual(state.results, {});
      assert.deepEqual(await calls(db), ["fenced:s1:run"]);
    });

    it("two orchestrators polling one database never run the same saga at once", async () => {
      const db = await fresh("replicas");
      const inFlight = new Map<string, number>();
      let overlap = 0;
      const ran = new Map<string, string[]>();
      const make = (who: string) =>
        defineSaga({
          name: "work",
          steps: ["s1", "s2", "s3"].map((n) =>
            step(db, n, {
              behave: async (c) => {
                const now = (inFlight.get(c.sagaId) ?? 0) + 1;
                inFlight.set(c.sagaId, now);
                if (now > 1) overlap++;
                ran.set(c.idempotencyKey, [...(ran.get(c.idempotencyKey) ?? []), who]);
                await sleep(15);
                inFlight.set(c.sagaId, now - 1);
                return who;
              },
            }),
          ),
        });
      // A seeder that runs one saga and leaves the others waiting in the table.
      const seeder = orchestrator(db, [make("seeder")], { maxConcurrent: 1 });
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push((await seeder.start("work", { i }, { id: `w${i}` })).id);
      const a = orchestrator(db, [make("a")], { maxConcurrent: 4 });
      const b = orchestrator(db, [make("b")], { maxConcurrent: 4 });
      await Promise.all([a.startPolling(), b.startPolling()]);
      const states = await Promise.all(ids.map((id) => a.wait(id, { timeoutMs: 20_000 })));
      assert.deepEqual(new Set(states.map((s) => s.status)), new Set(["completed"]));
      assert.equal(overlap, 0);
      assert.equal(ran.size, 36);
      for (const [key, who] of ran) assert.equal(who.length, 1, `${key} ran ${who.length} times`);
      const workers = new Set([...ran.values()].flat());
      assert.ok(workers.has("a") && workers.has("b"), `both replicas took sagas: ${[...workers]}`);
      assert.deepEqual(Object.values(await effectCalls(db)).filter((n) => n !== 1), []);
    });
  });
}
