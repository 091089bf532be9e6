// A real crash: a service process is SIGKILLed while a saga step is in flight,
// and a second process resumes the saga from the database.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PostgresProvider } from "../../db/postgres.ts";
import type { Database } from "../../db/types.ts";
import type { SagaState } from "../types.ts";
import { CRASH_SERVICE } from "./crash-worker.ts";
import { dropTestDatabases, testDatabasePrefix, testPostgresUrl } from "./postgres-fixture.ts";

const worker = join(import.meta.dirname, "crash-worker.ts");
const databasePrefix = testDatabasePrefix();
let provider: PostgresProvider;
let db: Database;
const children = new Set<ChildProcess>();

function run(mode: string, id: string): { child: ChildProcess; lines: string[]; line: (prefix: string) => Promise<string> } {
  const child = spawn(process.execPath, [worker], {
    env: { ...process.env, SAGA_MODE: mode, SAGA_ID: id, SAGA_DB_PREFIX: databasePrefix, FLOTILLA_TEST_POSTGRES_URL: testPostgresUrl },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const lines: string[] = [];
  const waiting: [string, (line: string) => void][] = [];
  let buffer = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const [prefix, resolve] of waiting) if (line.startsWith(prefix)) resolve(line);
    }
  });
  const exited = once(child, "exit");
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen !== undefined) return resolve(seen);
      waiting.push([prefix, resolve]);
      void exited.then(([code, signal]) => reject(new Error(`worker ${mode} exited (${code ?? signal}) before printing "${prefix}"`)));
    });
  return { child, lines, line };
}

async function killAfterCharge(id: string): Promise<void> {
  const first = run("start", id);
  await first.line("charge-applied");
  first.child.kill("SIGKILL");
  const [, signal] = await once(first.child, "exit");
  assert.equal(signal, "SIGKILL");
}

async function resume(mode: "resume" | "resume-fail", id: string): Promise<SagaState> {
  const second = run(mode, id);
  const line = await second.line("state ");
  const [code] = await once(second.child, "exit");
  assert.equal(code, 0);
  return JSON.parse(line.slice("state ".length)) as SagaState;
}

async function calls(id: string): Promise<{ key: string; pid: number }[]> {
  return db.query<{ key: string; pid: number }>("SELECT key, pid FROM saga_calls WHERE key LIKE $1 ORDER BY seq", [`${id}:%`]);
}

async function effects(id: string): Promise<Record<string, number>> {
  const rows = await db.query<{ key: string; calls: number }>("SELECT key, calls FROM saga_effects WHERE key LIKE $1", [`${id}:%`]);
  return Object.fromEntries(rows.map((r) => [r.key, r.calls]));
}

before(async () => {
  provider = new PostgresProvider({ url: testPostgresUrl, databasePrefix, poolSize: 2 });
});
after(async () => {
  // A worker left by a failed test must not outlive the run.
  for (const child of children) child.kill("SIGKILL");
  await provider.close();
  await dropTestDatabases(databasePrefix);
});

test("a saga whose process is SIGKILLed mid-step is completed by the next process, each effect applied once", async () => {
  await killAfterCharge("crash-1");
  db = await provider.open(CRASH_SERVICE);
  const dead = await db.query<{ status: string; step_index: number; lease_owner: string | null }>(
    "SELECT status, step_index, lease_owner FROM flotilla_sagas WHERE id = 'crash-1'",
  );
  // The dead process still holds the lease, and "charge" is not recorded as done.
  assert.equal(dead[0]?.status, "running");
  assert.equal(dead[0]?.step_index, 1);
  assert.notEqual(dead[0]?.lease_owner, null);

  const state = await resume("resume", "crash-1");
  assert.equal(state.status, "completed");
  assert.deepEqual(state.results, { reserve: "seat-12A", charge: "payment-1", issue: "ticket-1" });
  const made = await calls("crash-1");
  assert.deepEqual(
    made.map((c) => c.key),
    ["crash-1:reserve:run", "crash-1:charge:run", "crash-1:charge:run", "crash-1:issue:run"],
  );
  // reserve ran in the first process only; charge ran in both, with the same key.
  assert.equal(new Set(made.map((c) => c.pid)).size, 2);
  assert.notEqual(made[1]!.pid, made[2]!.pid);
  assert.deepEqual(await effects("crash-1"), { "crash-1:reserve:run": 1, "crash-1:charge:run": 2, "crash-1:issue:run": 1 });
  assert.deepEqual(
    state.steps.map((s) => [s.step, s.phase, s.status, s.attempts]),
    [
      ["reserve", "run", "succeeded", 1],
      ["charge", "run", "succeeded", 2],
      ["issue", "run", "succeeded", 1],
    ],
  );
});

test("a saga resumed after SIGKILL whose next step fails is compensated, each compensation applied once", async () => {
  await killAfterCharge("crash-2");
  db ??= await provider.open(CRASH_SERVICE);
  const state = await resume("resume-fail", "crash-2");
  assert.equal(state.status, "compensated");
  assert.match(state.error ?? "", /no tickets left/);
  assert.deepEqual(
    (await calls("crash-2")).map((c) => c.key),
    ["crash-2:reserve:run", "crash-2:charge:run", "crash-2:charge:run", "crash-2:issue:run", "crash-2:charge:compensate", "crash-2:reserve:compensate"],
  );
  assert.deepEqual(await effects("crash-2"), {
    "crash-2:reserve:run": 1,
    "crash-2:charge:run": 2,
    "crash-2:issue:run": 1,
    "crash-2:charge:compensate": 1,
    "crash-2:reserve:compensate": 1,
  });
});
