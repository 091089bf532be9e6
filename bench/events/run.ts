// The events benchmark: the outbox → JetStream → inbox path beside raw
// JetStream, and the event store beside plain INSERTs, in one run on this
// machine. See bench/README.md.
//
//   node bench/events/run.ts                          # 1 s warm-up + 5 s measured per case
//   node bench/events/run.ts --only e2e,raw-jetstream --duration 10000
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { e2e, type E2eResult } from "./e2e.ts";
import { startOwnNats } from "../support/engines.ts";
import { type FlowResult, type RawJetStreamResult, rawJetStream } from "./raw-jetstream.ts";
import { newRun } from "./setup.ts";
import { eventStore, rawInsert, type StoreResult } from "./store.ts";

const CONTENDERS = ["e2e", "raw-jetstream", "eventstore", "raw-insert"] as const;
// The issue's goals for the end-to-end path.
const GOAL_EVENTS_PER_SEC = 20_000;
const GOAL_P99_MS = 50;

const { values } = parseArgs({
  options: {
    warmup: { type: "string", default: process.env.BENCH_WARMUP_MS ?? "1000" },
    duration: { type: "string", default: process.env.BENCH_DURATION_MS ?? "5000" },
    writers: { type: "string", default: process.env.BENCH_WRITERS ?? "32" },
    "relay-batch": { type: "string", default: process.env.BENCH_RELAY_BATCH ?? "500" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "512" },
    "batch-size": { type: "string", default: process.env.BENCH_BATCH_SIZE ?? "100" },
    "inbox-transactions": { type: "string", default: process.env.BENCH_INBOX_TRANSACTIONS ?? "8" },
    "in-flight": { type: "string", default: process.env.BENCH_IN_FLIGHT ?? "256" },
    "consumer-pool": { type: "string", default: process.env.BENCH_CONSUMER_POOL ?? "16" },
    progress: { type: "boolean", default: process.env.BENCH_PROGRESS === "1" },
    "batch-handler": { type: "boolean", default: process.env.BENCH_BATCH_HANDLER === "1" },
    rate: { type: "string", default: process.env.BENCH_RATE ?? "0" },
    "events-per-tx": { type: "string", default: process.env.BENCH_EVENTS_PER_TX ?? "10,1" },
    only: { type: "string", default: process.env.BENCH_ONLY ?? "" },
    postgres: { type: "string", default: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    // "own": a nats-server with JetStream of the benchmark's own, so its CPU per event can be shown.
    nats: { type: "string", default: process.env.BENCH_NATS_URL ?? "own" },
  },
});

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive integer, got "${value}"`);
    process.exit(2);
  }
  return n;
}

const warmupMs = positive("warmup", values.warmup);
const durationMs = positive("duration", values.duration);
const writers = positive("writers", values.writers);
const relayBatch = positive("relay-batch", values["relay-batch"]);
const concurrency = positive("concurrency", values.concurrency);
const batchSize = positive("batch-size", values["batch-size"]);
const inboxTransactions = positive("inbox-transactions", values["inbox-transactions"]);
const inFlight = positive("in-flight", values["in-flight"]);
const consumerPool = positive("consumer-pool", values["consumer-pool"]);
const offeredRate = Number(values.rate);
if (!Number.isInteger(offeredRate) || offeredRate < 0) {
  console.error(`--rate must be a whole number of events per second (0: as fast as the writers can), got "${values.rate}"`);
  process.exit(2);
}
const eventsPerTxList = values["events-per-tx"].split(",").map((v) => positive("events-per-tx", v));
const only = values.only.split(",").filter((s) => s !== "");
const unknown = only.filter((o) => !(CONTENDERS as readonly string[]).includes(o));
if (unknown.length > 0) {
  console.error(`--only: unknown ${unknown.join(", ")}; known: ${CONTENDERS.join(", ")}`);
  process.exit(2);
}
const selected = (name: (typeof CONTENDERS)[number]) => only.length === 0 || only.includes(name);
// A backlog left at the end of the window gets this long to drain, so its latency counts.
const drainMs = Math.max(5000, durationMs);

const ownNats = values.nats === "own" ? await startOwnNats({ jetstream: true }) : undefined;
const run = newRun({ postgresUrl: values.postgres, natsUrl: ownNats?.url ?? values.nats, ...(ownNats === undefined ? {} : { natsPid: ownNats.pid }) });
let interrupted = false;
let cleaning: Promise<void> | undefined;
const cleanup = () => {
  cleaning ??= run.cleanup().finally(() => ownNats?.stop());
  return cleaning;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const ms = (n: number) => (Number.isNaN(n) ? "—" : n.toFixed(2));
const rate = (n: number) => n.toFixed(0);
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "—");

console.log(
  `Events benchmark — node ${process.version}, ${cpus().length} CPUs, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}, ${warmupMs} ms warm-up + ${durationMs} ms measured per case`,
);

const flows = new Map<string, FlowResult | E2eResult | RawJetStreamResult>();
const stores = new Map<string, StoreResult>();
try {
  if (selected("e2e")) {
    for (const eventsPerTx of eventsPerTxList) {
      const name = `e2e b${eventsPerTx} w${writers}${offeredRate > 0 ? ` at ${offeredRate} ev/s` : ""}${values["batch-handler"] ? " batch-handler" : ""}`;
      const r = await e2e(run, {
        warmupMs,
        durationMs,
        writers,
        eventsPerTx,
        relayBatch,
        concurrency,
        batchSize,
        inboxTransactions,
        producerPool: writers,
        consumerPool,
        drainMs,
        progress: values.progress,
        batchHandler: values["batch-handler"],
        rate: offeredRate,
      });
      flows.set(name, r);
      console.log(`${name}: done`);
    }
  }
  if (selected("raw-jetstream")) {
    flows.set(`raw-jetstream ${inFlight} in flight`, await rawJetStream(run, { warmupMs, durationMs, inFlight, drainMs }));
    console.log("raw-jetstream: done");
  }
  for (const w of selected("eventstore") || selected("raw-insert") ? [1, 16] : []) {
    for (const b of [1, 10]) {
      const options = { warmupMs, durationMs, writers: w, eventsPerAppend: b };
      if (selected("eventstore")) stores.set(`eventstore w${w} b${b}`, await eventStore(run, options));
      if (selected("raw-insert")) stores.set(`raw-insert w${w} b${b}`, await rawInsert(run, options));
      console.log(`store w${w} b${b}: done`);
    }
  }
} catch (error) {
  // Interrupted: the contender failed because its processes were ended; the signal handler exits.
  if (interrupted) await new Promise(() => {});
  throw error;
} finally {
  await cleanup();
}

if (flows.size > 0) {
  console.log("\n| contender | produced ev/s | delivered ev/s | p50 ms | p99 ms | max ms | undelivered |");
  console.log("|---|--:|--:|--:|--:|--:|--:|");
  for (const [name, r] of flows) {
    console.log(`| ${name} | ${rate(r.producedPerSec)} | ${rate(r.deliveredPerSec)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} | ${ms(r.latency.maxMs)} | ${r.undelivered} |`);
  }
}
if (stores.size > 0) {
  console.log("\n| contender | commits/s | events/s | p50 ms | p99 ms |");
  console.log("|---|--:|--:|--:|--:|");
  for (const [name, r] of stores) {
    console.log(`| ${name} | ${rate(r.commitsPerSec)} | ${rate(r.eventsPerSec)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} |`);
  }
}

// What each process spent per event, and the rate the machine could carry if
// it ran nothing else: cores / all of it (the steadier comparison on a busy machine).
const cores = cpus().length;
const us = (n: number) => (Number.isNaN(n) ? "—" : n.toFixed(1));
const cpuRows = [...flows].filter((entry): entry is [string, E2eResult | RawJetStreamResult] => "natsCpuUsPerEvent" in entry[1]);
if (cpuRows.length > 0) {
  console.log("\n| contender | CPU µs/event: producer | consumer | PostgreSQL backends | nats-server | sum | CPU-bound ceiling ev/s | machine busy µs/event |");
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|");
  for (const [name, r] of cpuRows) {
    const parts = "producerCpuUsPerEvent" in r ? [r.producerCpuUsPerEvent, r.consumerCpuUsPerEvent, r.postgresCpuUsPerEvent] : [r.clientCpuUsPerEvent, 0, 0];
    const sum = [...parts, r.natsCpuUsPerEvent].filter((n) => !Number.isNaN(n)).reduce((a, b) => a + b, 0);
    const machine = "machineCpuUsPerEvent" in r ? us(r.machineCpuUsPerEvent) : "—";
    const shown = "producerCpuUsPerEvent" in r ? parts.map(us) : [`${us(r.clientCpuUsPerEvent)} (one process)`, "—", "—"];
    console.log(`| ${name} | ${shown.join(" | ")} | ${us(r.natsCpuUsPerEvent)} | ${us(sum)} | ${rate((cores * 1e6) / sum)} | ${machine} |`);
  }
}

console.log("");
const raw = [...flows].find(([name]) => name.startsWith("raw-jetstream"))?.[1];
for (const [name, r] of flows) {
  if (!name.startsWith("e2e")) continue;
  if (raw !== undefined) {
    console.log(`- ${name} / raw-jetstream: ${ratio(r.deliveredPerSec, raw.deliveredPerSec)} delivered/s, p99 ${ratio(r.latency.p99Ms, raw.latency.p99Ms)}`);
  }
  if ("producerCpuUsPerEvent" in r) {
    console.log(`  CPU per event: producer ${rate(r.producerCpuUsPerEvent)} µs, consumer ${rate(r.consumerCpuUsPerEvent)} µs (processes of the chassis; PostgreSQL and NATS not counted)`);
  }
  const met = r.deliveredPerSec >= GOAL_EVENTS_PER_SEC && r.latency.p99Ms < GOAL_P99_MS && r.undelivered === 0;
  console.log(
    `  goal ≥ ${GOAL_EVENTS_PER_SEC} ev/s and p99 < ${GOAL_P99_MS} ms: ${met ? "met" : "NOT met"} (${rate(r.deliveredPerSec)} ev/s, p99 ${ms(r.latency.p99Ms)} ms${"relayFailures" in r && r.relayFailures > 0 ? `, ${r.relayFailures} relay failures` : ""})`,
  );
}
for (const [name, r] of stores) {
  if (!name.startsWith("eventstore")) continue;
  const peer = stores.get(name.replace("eventstore", "raw-insert"));
  if (peer !== undefined) console.log(`- ${name} / raw-insert: ${ratio(r.commitsPerSec, peer.commitsPerSec)} commits/s`);
}
