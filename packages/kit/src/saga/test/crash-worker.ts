// A service process running a booking-like saga on PostgreSQL, for the crash
// test. SAGA_MODE:
//   start   starts saga SAGA_ID; step "charge" applies its effect, prints
//           "charge-applied" and never answers (the parent SIGKILLs it there)
//   resume  polls until it has resumed and finished SAGA_ID, prints "state <json>"
//   resume-fail  as resume, but step "issue" fails, so the saga compensates
// Every call is a row in saga_calls; each effect is a row in saga_effects keyed
// by the idempotency key, as a payment service honouring an Idempotency-Key keeps it.
import { pino } from "pino";
import { migrate } from "../../db/migrate.ts";
import { PostgresProvider } from "../../db/postgres.ts";
import type { Database } from "../../db/types.ts";
import { defineSaga } from "../define-saga.ts";
import { sagaMigrations } from "../migrations.ts";
import { SagaOrchestrator } from "../orchestrator.ts";
import type { StepContext } from "../types.ts";

export const CRASH_SERVICE = "bookings";
export const crashTables = {
  id: "test_0001_calls_and_effects",
  sql: `CREATE TABLE saga_calls (seq serial PRIMARY KEY, key text NOT NULL, pid integer NOT NULL);
        CREATE TABLE saga_effects (key text PRIMARY KEY, calls integer NOT NULL DEFAULT 1);`,
};

async function effect(db: Database, ctx: StepContext<unknown>): Promise<void> {
  await db.query("INSERT INTO saga_calls (key, pid) VALUES ($1, $2)", [ctx.idempotencyKey, process.pid]);
  await db.query("INSERT INTO saga_effects (key) VALUES ($1) ON CONFLICT (key) DO UPDATE SET calls = saga_effects.calls + 1", [
    ctx.idempotencyKey,
  ]);
}

function bookingSaga(db: Database, mode: string) {
  const undo = (ctx: StepContext<unknown>) => effect(db, ctx);
  return defineSaga({
    name: "book-ticket",
    steps: [
      { name: "reserve", run: async (ctx) => effect(db, ctx).then(() => "seat-12A"), compensate: undo },
      {
        name: "charge",
        run: async (ctx) => {
          await effect(db, ctx);
          if (mode !== "start") return "payment-1";
          process.stdout.write("charge-applied\n");
          // The answer never comes back: the process dies here.
          setInterval(() => {}, 1_000);
          return new Promise(() => {});
        },
        compensate: undo,
      },
      {
        name: "issue",
        run: async (ctx) => {
          await effect(db, ctx);
          if (mode === "resume-fail") throw new Error("no tickets left");
          return "ticket-1";
        },
        compensate: undo,
      },
    ],
  });
}

async function main(): Promise<void> {
  const mode = process.env.SAGA_MODE ?? "";
  const id = process.env.SAGA_ID ?? "";
  const provider = new PostgresProvider({
    url: process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    databasePrefix: process.env.SAGA_DB_PREFIX ?? "",
    poolSize: 2,
  });
  const db = await provider.open(CRASH_SERVICE);
  await migrate(db, [...sagaMigrations, crashTables]);
  const sagas = new SagaOrchestrator({ db, sagas: [bookingSaga(db, mode)], log: pino({ level: "silent" }), leaseMs: 500, pollMs: 50 });
  if (mode === "start") {
    await sagas.start("book-ticket", { seat: "12A" }, { id });
    return; // runs until killed
  }
  await sagas.startPolling();
  const state = await sagas.wait(id, { timeoutMs: 15_000 });
  process.stdout.write(`state ${JSON.stringify(state)}\n`);
  await sagas.close();
  await provider.close();
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
