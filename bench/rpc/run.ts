// The RPC benchmark: the chassis beside the transport it rides on and beside
// Moleculer, in one run on this machine. See bench/README.md.
//
//   node bench/rpc/run.ts                                  # 2 s warm-up + 5 s per mode, 1 round
//   node bench/rpc/run.ts --rounds 5 --only chassis,raw-undici
import { fork } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { contenders } from "./contenders.ts";
import type { LoadResult } from "./load.ts";

const { values } = parseArgs({
  options: {
    warmup: { type: "string", default: process.env.BENCH_WARMUP_MS ?? "2000" },
    duration: { type: "string", default: process.env.BENCH_DURATION_MS ?? "5000" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "64" },
    rounds: { type: "string", default: process.env.BENCH_ROUNDS ?? "1" },
    only: { type: "string", default: process.env.BENCH_ONLY ?? "" },
    nats: { type: "string", default: process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222" },
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
const concurrency = positive("concurrency", values.concurrency);
const rounds = positive("rounds", values.rounds);
const only = values.only.split(",").filter((s) => s !== "");
const selected = contenders.filter((c) => only.length === 0 || only.includes(c.name));
if (selected.length === 0) {
  console.error(`--only matches no contender; known: ${contenders.map((c) => c.name).join(", ")}`);
  process.exit(2);
}

interface Runs {
  c1: LoadResult[];
  cN: LoadResult[];
}

function runOne(name: string): Promise<{ c1: LoadResult; cN: LoadResult }> {
  const script = fileURLToPath(new URL("./measure.ts", import.meta.url));
  const child = fork(script, [name, String(warmupMs), String(durationMs), String(concurrency), values.nats], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    let result: { c1: LoadResult; cN: LoadResult } | undefined;
    child.on("message", (m) => {
      result = m as { c1: LoadResult; cN: LoadResult };
    });
    child.on("exit", (code) => (result !== undefined ? resolve(result) : reject(new Error(`${name} exited with ${code} without a result`))));
  });
}

const cpu = (r: LoadResult) => `${r.clientCpuUs.toFixed(0)} + ${Number.isNaN(r.serverCpuUs) ? "?" : r.serverCpuUs.toFixed(0)}`;
const line = (r: LoadResult) =>
  `${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  cpu/call ${cpu(r)} µs${r.errors > 0 ? `  (${r.errors} errors)` : ""}`;

console.log(`RPC benchmark — node ${process.version}, ${cpus().length} CPUs, ${warmupMs} ms warm-up + ${durationMs} ms measured per mode, c1 and c${concurrency}, ${rounds} round(s)`);
for (const c of selected) console.log(`  ${c.name.padEnd(11)} ${c.describe}`);

const runs = new Map<string, Runs>(selected.map((c) => [c.name, { c1: [], cN: [] }]));
// Rounds interleave the contenders, so a burst of other load on the machine
// does not land on one contender only; the table keeps each one's best round.
for (let round = 1; round <= rounds; round++) {
  for (const contender of selected) {
    const result = await runOne(contender.name);
    const entry = runs.get(contender.name) as Runs;
    entry.c1.push(result.c1);
    entry.cN.push(result.cN);
    console.log(`round ${round} ${contender.name.padEnd(11)} c1 ${line(result.c1)}`);
    console.log(`round ${round} ${contender.name.padEnd(11)} c${concurrency} ${line(result.cN)}`);
  }
}

/**
 * The round with the best throughput (its latencies and CPU come with it):
 * other load on the machine only ever slows a contender down, so the best
 * round is the closest to what the contender itself can do.
 */
function best(results: LoadResult[]): LoadResult {
  return results.reduce((a, b) => (b.rps > a.rps ? b : a));
}

const summary = new Map([...runs].map(([name, r]) => [name, { c1: best(r.c1), cN: best(r.cN) }]));
const n = concurrency;
console.log(`\n| contender | c1 req/s | c1 p50 ms | c1 p99 ms | c${n} req/s | c${n} p50 ms | c${n} p99 ms | c${n} CPU µs/call (client + server) |`);
console.log("|---|--:|--:|--:|--:|--:|--:|--:|");
for (const [name, { c1, cN }] of summary) {
  const cells = [c1.rps.toFixed(0), c1.p50Ms.toFixed(3), c1.p99Ms.toFixed(3), cN.rps.toFixed(0), cN.p50Ms.toFixed(3), cN.p99Ms.toFixed(3), cpu(cN)];
  console.log(`| ${name} | ${cells.join(" | ")} |`);
}

const ratio = (a: string, b: string, mode: "c1" | "cN") => {
  const x = summary.get(a)?.[mode];
  const y = summary.get(b)?.[mode];
  return x && y && y.rps > 0 ? `${(x.rps / y.rps).toFixed(2)}×` : "n/a";
};
console.log("");
console.log(`chassis / moleculer:   c1 ${ratio("chassis", "moleculer", "c1")}  c${concurrency} ${ratio("chassis", "moleculer", "cN")}   (goal ≥ 2× at c${concurrency})`);
console.log(`chassis / raw-undici:  c1 ${ratio("chassis", "raw-undici", "c1")}  c${concurrency} ${ratio("chassis", "raw-undici", "cN")}   (goal ≥ 0.8× at c${concurrency})`);
console.log(`raw-node / raw-undici: c1 ${ratio("raw-node", "raw-undici", "c1")}  c${concurrency} ${ratio("raw-node", "raw-undici", "cN")}   (why HttpTransport is on undici)`);
