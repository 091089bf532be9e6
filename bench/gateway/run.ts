// The gateway benchmark: the Flotilla gateway (JWT + rate limit + route to one
// service) beside nginx as a plain reverse proxy and moleculer-web over NATS,
// all in front of the same kind of upstream, in one run. See bench/README.md.
// nginx gets as many workers as the gateway gets processes (`--workers`).
//
//   node bench/gateway/run.ts                      # 10 s first warm-up, 2 s warm-up + 5 s per mode, 1 round
//   node bench/gateway/run.ts --rounds 3 --duration 8
//   node bench/gateway/run.ts --workers 1,2        # nginx and the gateway with 1, then 2 processes each
import { type ChildProcess, fork, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EVENT_ID } from "../rpc/payload.ts";
import { startNginx } from "./nginx.ts";
import { ensureTools } from "./tools.ts";
import { type Target, type WrkResult, wrk } from "./wrk.ts";

const { values } = parseArgs({
  options: {
    warmup: { type: "string", default: process.env.BENCH_WARMUP_S ?? "2" },
    "jit-warmup": { type: "string", default: process.env.BENCH_JIT_WARMUP_S ?? "10" },
    duration: { type: "string", default: process.env.BENCH_DURATION_S ?? "5" },
    connections: { type: "string", default: process.env.BENCH_CONNECTIONS ?? "64" },
    rounds: { type: "string", default: process.env.BENCH_ROUNDS ?? "1" },
    nats: { type: "string", default: process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222" },
    workers: { type: "string", default: process.env.BENCH_WORKERS ?? "1" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(`node bench/gateway/run.ts [flags]   (each flag also reads its env variable)
  --jit-warmup <s>    BENCH_JIT_WARMUP_S  first full-load warm-up per contender (10)
  --warmup <s>        BENCH_WARMUP_S      warm-up before each measured run (2)
  --duration <s>      BENCH_DURATION_S    each measured run (5)
  --connections <n>   BENCH_CONNECTIONS   the throughput mode's connections (64)
  --rounds <n>        BENCH_ROUNDS        interleaved rounds, best kept (1)
  --nats <url>        BENCH_NATS_URL      NATS of moleculer-web (nats://127.0.0.1:4222)
  --workers <n,...>   BENCH_WORKERS       nginx workers = gateway processes, one pair per value (1); above 1 the gateway counts in a Redis of the run's own`);
  process.exit(0);
}
const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name} must be a positive integer, got "${value}"`);
    process.exit(2);
  }
  return n;
};
const warmup = positive("warmup", values.warmup);
const jitWarmup = positive("jit-warmup", values["jit-warmup"]);
const duration = positive("duration", values.duration);
const connections = positive("connections", values.connections);
const rounds = positive("rounds", values.rounds);
const workerCounts = [...new Set(values.workers.split(",").map((n) => positive("workers", n.trim())))];

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Forks a server script and waits for its first message (its URL, or that it is ready). */
function start<T>(script: string, env: Record<string, string> = {}): Promise<T & { child: ChildProcess }> {
  const child = fork(script, [], { env: { ...process.env, FLOTILLA_LOG_LEVEL: "silent", ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ ...(message as T), child }));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

/** CPU time (µs) a server process has used: asked over IPC (bench/rpc/servers/report-cpu.ts). */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (typeof message === "object" && message !== null && "cpu" in message) {
        child.off("message", onMessage);
        resolve((message as { cpu: number }).cpu);
      }
    };
    child.on("message", onMessage);
    child.send("cpu");
  });
}

/** CPU time (µs) of a process and its children (nginx's master and workers, the gateway's primary and workers), from /proc. */
function treeCpu(root: number): number {
  const ticks = (pid: number): number => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((p) => p !== "").map(Number);
    return Number(fields[11]) + Number(fields[12]) + children.reduce((sum, child) => sum + ticks(child), 0); // utime, stime (fields 14 and 15)
  };
  return (ticks(root) * 1_000_000) / 100;
}

/** A Redis of the run's own, for a gateway of several processes (they share their rate-limit counters in it). */
async function startRedis(port: number): Promise<{ child: ChildProcess; url: string }> {
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    if (redis.exitCode !== null) throw new Error(`redis-server exited with ${redis.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, "127.0.0.1", () => resolve(socket.end() !== undefined)).once("error", () => resolve(false));
    });
    if (up) return { child: redis, url: `redis://127.0.0.1:${port}` };
    await sleep(50);
  }
  throw new Error("redis-server did not start");
}

function stopAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
}
process.on("exit", stopAll);

const shared = workerCounts.some((n) => n > 1);
ensureTools({ redis: shared });
const work = mkdtempSync(join(tmpdir(), "flotilla-bench-gw-"));
const loadBefore = loadavg();

// The upstream: the chassis's Connect server with a trivial GetEvent (as in bench/rpc).
const { url: upstreamUrl, child: upstreamChild } = await start<{ url: string }>(here("../rpc/servers/chassis.ts"));
// Several gateway processes count rate limits in Redis, as their config requires (`server.workers`).
const redis = shared ? await startRedis(await freePort()) : undefined;
if (redis) children.push(redis.child);
const nginxes: ChildProcess[] = [];
/** nginx with n workers and the gateway with n processes: the names carry n when it is not 1. */
const pairs: { workers: number; nginx: string; gateway: string }[] = [];
const namespace = `bench-gw-${randomUUID().slice(0, 8)}`;
const natsEnv = { BENCH_NATS_URL: values.nats, BENCH_MOLECULER_NAMESPACE: namespace };
const { child: catalogChild } = await start(here("../rpc/servers/moleculer.ts"), natsEnv);
const { url: moleculerUrl, child: webChild } = await start<{ url: string }>(here("./servers/moleculer-web.ts"), { ...natsEnv, BENCH_PORT: String(await freePort()) });

// Direct and nginx speak Connect's JSON to the upstream; the gateways take the REST route.
const connectCall = (base: string): Target => ({
  url: `${base}/flotilla.catalog.v1.CatalogService/GetEvent`,
  method: "POST",
  headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
  body: JSON.stringify({ eventId: EVENT_ID }),
});
// What each contender's own processes cost, the upstream left out (it is the same for all three).
const contenders: { name: string; target: Target; cpu: () => Promise<number> }[] = [{ name: "direct", target: connectCall(upstreamUrl), cpu: () => cpuOf(upstreamChild) }];
for (const n of workerCounts) {
  const suffix = n === 1 ? "" : ` ×${n}`;
  const nginxPort = await freePort();
  const nginx = await startNginx(work, nginxPort, new URL(upstreamUrl), n);
  nginxes.push(nginx);
  const env: Record<string, string> = { BENCH_UPSTREAM_URL: upstreamUrl, BENCH_GATEWAY_WORKERS: String(n) };
  if (n > 1 && redis !== undefined) env.BENCH_REDIS_URL = redis.url;
  const { url: gatewayUrl, token, child: gatewayChild } = await start<{ url: string; token: string }>(here("./servers/gateway.ts"), env);
  const gatewayPid = gatewayChild.pid ?? 0;
  const redisPid = n > 1 ? (redis?.child.pid ?? 0) : 0;
  contenders.push(
    { name: `nginx${suffix}`, target: connectCall(`http://127.0.0.1:${nginxPort}`), cpu: async () => treeCpu(nginx.pid ?? 0) },
    {
      name: `gateway${suffix}`,
      target: { url: `${gatewayUrl}/v1/catalog/events/${EVENT_ID}`, method: "GET", headers: { Authorization: `Bearer ${token}` } },
      // Its primary and workers, and with several processes the Redis they count in.
      cpu: async () => treeCpu(gatewayPid) + (redisPid === 0 ? 0 : treeCpu(redisPid)),
    },
  );
  pairs.push({ workers: n, nginx: `nginx${suffix}`, gateway: `gateway${suffix}` });
}
contenders.push({
  name: "moleculer-web",
  target: { url: `${moleculerUrl}/v1/catalog/events/${EVENT_ID}`, method: "GET", headers: {} },
  // The web gateway and the action's broker (the NATS server's CPU is left out).
  cpu: async () => (await cpuOf(webChild)) + (await cpuOf(catalogChild)),
});

type Mode = "c1" | `c${number}`;
const modes: [Mode, number][] = [
  ["c1", 1],
  [`c${connections}`, connections],
];
type Measured = WrkResult & { cpuUsPerRequest: number };
const best = new Map<string, Measured>();
const keep = (key: string, result: Measured) => {
  const seen = best.get(key);
  // Other load on the machine only slows a contender down: keep its best round.
  if (seen === undefined || result.rps > seen.rps) best.set(key, result);
};

console.log(`gateway bench: nginx workers = gateway processes = ${workerCounts.join(", ")}; ${rounds} round(s), ${jitWarmup} s first warm-up per contender, ${warmup} s warm-up + ${duration} s per mode, ${cpus().length} CPUs, load ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
try {
  // Once per contender, under full load: V8 needs some 10-15 s of traffic before
  // its optimised code settles (the Node contenders would otherwise be measured
  // partly while compiling); a gateway runs for days. nginx gets the same.
  for (const { target } of contenders) await wrk(target, connections, jitWarmup, work);
  for (let round = 1; round <= rounds; round++) {
    for (const { name, target, cpu } of contenders) {
      for (const [mode, c] of modes) {
        await wrk(target, c, warmup, work);
        const cpuBefore = await cpu();
        const measured = await wrk(target, c, duration, work);
        const cpuUsPerRequest = ((await cpu()) - cpuBefore) / (measured.rps * duration);
        if (measured.errors > 0) throw new Error(`${name} ${mode}: ${measured.errors} failed requests`);
        const result = { ...measured, cpuUsPerRequest };
        keep(`${name} ${mode}`, result);
        console.log(
          `  round ${round} ${name.padEnd(13)} ${mode.padEnd(4)} ${result.rps.toFixed(0).padStart(7)} req/s  p50 ${result.p50Ms.toFixed(3)} ms  p99 ${result.p99Ms.toFixed(3)} ms  ${cpuUsPerRequest.toFixed(0)} µs CPU/req`,
        );
      }
    }
  }
} finally {
  for (const nginx of nginxes) nginx.kill("SIGQUIT");
  stopAll();
  rmSync(work, { recursive: true, force: true });
}

const high = modes[1]![0];
console.log(`\n| contender | c1 req/s | c1 p50 ms | c1 p99 ms | ${high} req/s | ${high} p50 ms | ${high} p99 ms | ${high} CPU µs/req |\n|---|--:|--:|--:|--:|--:|--:|--:|`);
for (const { name } of contenders) {
  const a = best.get(`${name} c1`)!;
  const b = best.get(`${name} ${high}`)!;
  console.log(`| ${name} | ${a.rps.toFixed(0)} | ${a.p50Ms.toFixed(3)} | ${a.p99Ms.toFixed(3)} | ${b.rps.toFixed(0)} | ${b.p50Ms.toFixed(3)} | ${b.p99Ms.toFixed(3)} | ${b.cpuUsPerRequest.toFixed(0)} |`);
}
const rps = (name: string, mode: Mode) => best.get(`${name} ${mode}`)!.rps;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const cpu = (name: string) => best.get(`${name} ${high}`)!.cpuUsPerRequest;
console.log("");
for (const { workers, nginx, gateway } of pairs) {
  const label = workers === 1 ? "one process each" : `${workers} processes each, the gateway's counters in Redis`;
  console.log(`- ${gateway} / ${nginx} (${label}): ${ratio(rps(gateway, "c1"), rps(nginx, "c1"))} at c1, **${ratio(rps(gateway, high), rps(nginx, high))}** at ${high} (goal ≥ 0.7×)`);
  console.log(`- ${gateway} / moleculer-web: ${ratio(rps(gateway, "c1"), rps("moleculer-web", "c1"))} at c1, **${ratio(rps(gateway, high), rps("moleculer-web", high))}** at ${high} (goal ≥ 1.5×)`);
  console.log(`- CPU per request at ${high} (less sensitive to other load): ${gateway} ${cpu(gateway).toFixed(0)} µs, ${nginx} ${cpu(nginx).toFixed(0)} µs, moleculer-web + its service ${cpu("moleculer-web").toFixed(0)} µs`);
}
for (const { gateway } of pairs) {
  const overhead = best.get(`${gateway} c1`)!.p50Ms - best.get("direct c1")!.p50Ms;
  console.log(`- ${gateway} p50 overhead over the direct call (c1): **${overhead.toFixed(3)} ms** (goal ≤ 0.5 ms)`);
}
console.log(`- load average before / after: ${loadBefore.map((l) => l.toFixed(2)).join(" ")} / ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
process.exit(0);
