// The RPC benchmark: the chassis beside the transport it rides on and beside
// Moleculer, in one run on this machine. See bench/README.md.
//
//   node bench/rpc/run.ts                                  # 2 s warm-up + 5 s per mode, 1 round
//   node bench/rpc/run.ts --rounds 5 --only chassis,raw-undici
import { fork } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startOwnNats } from "../support/engines.ts";
import { contenders } from "./contenders.ts";
import type { LoadResult } from "./load.ts";

const { values } = parseArgs({
  options: {
    warmup: { type: "string", default: process.env.BENCH_WARMUP_MS ?? "2000" },
    duration: { type: "string", default: process.env.BENCH_DURATION_MS ?? "5000" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "64" },
    rounds: { type: "string", default: process.env.BENCH_ROUNDS ?? "1" },
    only: { type: "string", default: process.env.BENCH_ONLY ?? "" },
    // "own": a nats-server of the benchmark's own, so its CPU per call can be shown.
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
const concurrency = positive("concurrency", values.concurrency);
const rounds = positive("rounds", values.rounds);
const only = values.only.split(",").filter((s) => s !== "");
const selected = contenders.filter((c) => only.length === 0 || only.includes(c.name));
if (selected.length === 0) {
  console.error(`--only matches no contender; known: ${contenders.map((c) => c.name).join(", ")}`);
  process.exit(2);
}

const needsNats = selected.some((c) => c.usesNats);
// Its CPU is read from /proc during the NATS contenders.
const ownNats = needsNats && values.nats === "own" ? await startOwnNats() : undefined;
const natsUrl = ownNats?.url ?? (values.nats === "own" ? "nats://127.0.0.1:4222" : values.nats);
const natsPid = String(ownNats?.pid ?? 0);

interface Runs {
  c1: LoadResult[];
  cN: LoadResult[];
}

function runOne(name: string): Promise<{ c1: LoadResult; cN: LoadResult }> {
  const script = fileURLToPath(new URL("./measure.ts", import.meta.url));
  const child = fork(script, [name, String(warmupMs), String(durationMs), String(concurrency), natsUrl, natsPid], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    let result: { c1: LoadResult; cN: LoadResult } | undefined;
    child.on("message", (m) => {
      result = m as { c1: LoadResult; cN: LoadResult };
    });
    child.on("exit", (code) => (result !== undefined ? resolve(result) : reject(new Error(`${name} exited with ${code} without a result`))));
  });
}

// NaN crosses the IPC channel as null.
const known = (n: number | null): n is number => typeof n === "number" && !Number.isNaN(n);
const us = (n: number | null) => (known(n) ? n.toFixed(1) : "–");
const cpu = (r: LoadResult) => `${us(r.clientCpuUs)} + ${us(r.serverCpuUs)}${known(r.brokerCpuUs) ? ` + ${us(r.brokerCpuUs)}` : ""}`;
const line = (r: LoadResult) =>
  `${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  cpu/call ${cpu(r)} µs${r.errors > 0 ? `  (${r.errors} errors)` : ""}`;

console.log(`RPC benchmark — node ${process.version}, ${cpus().length} CPUs, ${warmupMs} ms warm-up + ${durationMs} ms measured per mode, c1 and c${concurrency}, ${rounds} round(s)`);
if (needsNats) console.log(`  NATS: ${ownNats ? `own nats-server at ${natsUrl} (its CPU shown as the third term)` : natsUrl}`);
for (const c of selected) console.log(`  ${c.name.padEnd(12)} ${c.describe}`);

const runs = new Map<string, Runs>(selected.map((c) => [c.name, { c1: [], cN: [] }]));
// Rounds interleave the contenders, so a burst of other load on the machine
// does not land on one contender only; the table keeps each one's best round.
for (let round = 1; round <= rounds; round++) {
  for (const contender of selected) {
    const result = await runOne(contender.name);
    const entry = runs.get(contender.name) as Runs;
    entry.c1.push(result.c1);
    entry.cN.push(result.cN);
    console.log(`round ${round} ${contender.name.padEnd(12)} c1 ${line(result.c1)}`);
    console.log(`round ${round} ${contender.name.padEnd(12)} c${concurrency} ${line(result.cN)}`);
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
/**
 * Calls per second all the machine's cores could carry if every process of the
 * contender were busy only with it: cores / CPU per call (client + server + nats-server).
 * Other load on the machine slows throughput far more than it changes CPU per
 * call, so on a shared machine this is the steadier figure to compare.
 */
function ceiling(r: LoadResult): number {
  const total = r.clientCpuUs + (known(r.serverCpuUs) ? r.serverCpuUs : 0) + (known(r.brokerCpuUs) ? r.brokerCpuUs : 0);
  return (cpus().length * 1e6) / total;
}
/** The round with the least CPU per call: the one least disturbed by other load. */
function leanest(results: LoadResult[]): LoadResult {
  return results.reduce((a, b) => (ceiling(b) > ceiling(a) ? b : a));
}
const lean = new Map([...runs].map(([name, r]) => [name, leanest(r.cN)]));

console.log(`\n| contender | c1 req/s | c1 p50 ms | c1 p99 ms | c${n} req/s | c${n} p50 ms | c${n} p99 ms | c${n} CPU µs/call (client + server [+ nats-server]) | c${n} CPU-bound ceiling req/s |`);
console.log("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
for (const [name, { c1, cN }] of summary) {
  const leanN = lean.get(name) as LoadResult;
  const cells = [c1.rps.toFixed(0), c1.p50Ms.toFixed(3), c1.p99Ms.toFixed(3), cN.rps.toFixed(0), cN.p50Ms.toFixed(3), cN.p99Ms.toFixed(3), cpu(leanN), ceiling(leanN).toFixed(0)];
  console.log(`| ${name} | ${cells.join(" | ")} |`);
}

const ratio = (a: string, b: string, mode: "c1" | "cN") => {
  const x = summary.get(a)?.[mode];
  const y = summary.get(b)?.[mode];
  return x && y && y.rps > 0 ? `${(x.rps / y.rps).toFixed(2)}×` : "n/a";
};
console.log("");
const ratios: [string, string, string][] = [
  ["chassis-nats", "moleculer", "goal ≥ 2×"],
  ["chassis-http", "moleculer", "goal ≥ 2×"],
  ["chassis-nats", "raw-nats", "goal ≥ 0.8×: the raw transport it rides on"],
  ["chassis-http", "raw-undici", "goal ≥ 0.8×: the raw transport it rides on"],
  ["raw-node", "raw-undici", "why HttpTransport is on undici"],
];
for (const [a, b, note] of ratios) {
  if (!summary.has(a) || !summary.has(b)) continue;
  const x = lean.get(a);
  const y = lean.get(b);
  const ceilingRatio = x && y ? `${(ceiling(x) / ceiling(y)).toFixed(2)}×` : "n/a";
  console.log(`${`${a} / ${b}:`.padEnd(27)} c1 ${ratio(a, b, "c1").padStart(6)}  c${concurrency} ${ratio(a, b, "cN").padStart(6)}  ceiling ${ceilingRatio.padStart(6)}   (${note})`);
}
await ownNats?.stop();
