// The realtime benchmark: WebSocket connections held by one messaging replica
// and message fan-out across two replicas, beside a bare `ws` server as the
// limit, in one run on this machine. See bench/README.md.
//
//   node bench/realtime/run.ts                              # hold 19 000, fan out to 10 000, 1 round
//   node bench/realtime/run.ts --connections 5000 --fanout-clients 2000 --rounds 2
//   node bench/realtime/run.ts --only hub --phases fanout --profile
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Child, cpuMsOf, killAll, spawnChild } from "./children.ts";
import type { OpenReply } from "./clients.ts";
import type { MemReply, SendReply, ServerOptions } from "./server.ts";
import { dropRunDatabases, mintTokens, natsFor, runNames, userId } from "./setup.ts";
import { type Latency, summarise, wallClock } from "./stats.ts";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: process.env.BENCH_CONNECTIONS ?? "19000" },
    "fanout-clients": { type: "string", default: process.env.BENCH_FANOUT_CLIENTS ?? "10000" },
    messages: { type: "string", default: process.env.BENCH_MESSAGES ?? "20" },
    "warmup-messages": { type: "string", default: process.env.BENCH_WARMUP_MESSAGES ?? "3" },
    duration: { type: "string", default: process.env.BENCH_DURATION_MS ?? "60000" },
    payload: { type: "string", default: process.env.BENCH_PAYLOAD_BYTES ?? "100" },
    rounds: { type: "string", default: process.env.BENCH_ROUNDS ?? "1" },
    "client-processes": { type: "string", default: process.env.BENCH_CLIENT_PROCESSES ?? "2" },
    only: { type: "string", default: process.env.BENCH_ONLY ?? "ws,hub" },
    phases: { type: "string", default: process.env.BENCH_PHASES ?? "hold,fanout" },
    nats: { type: "string", default: process.env.BENCH_NATS_URL ?? "own" },
    postgres: { type: "string", default: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    // The order a fan-out reaches the client processes in (they share the server's two cores, which real
    // clients would not): "grouped", all of one process's sockets then the next's; "interleaved", the
    // processes' sockets in turn. The same for both contenders; see bench/README.md.
    order: { type: "string", default: process.env.BENCH_ORDER ?? "interleaved" },
    profile: { type: "boolean", default: process.env.BENCH_PROFILE === "1" },
    // Memory after last-resort GCs, which give back V8's young generation: what the connections hold,
    // without the capacity the handshakes' allocations grew (a fixed amount, larger for the hub).
    "shrink-gc": { type: "boolean", default: process.env.BENCH_SHRINK_GC === "1" },
    // Connections opened and closed before the idle server is measured: what a process grows once
    // (compiled code, pools, buffers) is then part of its idle memory, not of the connections'.
    "warmup-connections": { type: "string", default: process.env.BENCH_WARMUP_CONNECTIONS ?? "1000" },
  },
});

function positive(name: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
    process.exit(2);
  }
  return n;
}
function listOf(name: string, value: string, known: readonly string[]): string[] {
  const list = value.split(",").filter((s) => s !== "");
  const unknown = list.filter((s) => !known.includes(s));
  if (list.length === 0 || unknown.length > 0) {
    console.error(`--${name}: expected some of ${known.join(",")}, got "${value}"`);
    process.exit(2);
  }
  return list;
}

const connections = positive("connections", values.connections);
const fanoutClients = positive("fanout-clients", values["fanout-clients"]);
const messages = positive("messages", values.messages);
const warmupConnections = positive("warmup-connections", values["warmup-connections"], 0);
const warmupMessages = positive("warmup-messages", values["warmup-messages"], 0);
const durationMs = positive("duration", values.duration);
const payloadBytes = positive("payload", values.payload, 8);
const rounds = positive("rounds", values.rounds);
const clientProcesses = positive("client-processes", values["client-processes"]);
const contenders = listOf("only", values.only, ["ws", "hub"]) as Array<"ws" | "hub">;
const phases = listOf("phases", values.phases, ["hold", "fanout"]);
const order = listOf("order", values.order, ["grouped", "interleaved"])[0] as "grouped" | "interleaved";
if (!/^postgres(ql)?:\/\/([^@/]*@)?(127\.0\.0\.1|localhost)(:\d+)?\//.test(values.postgres)) {
  console.error(`--postgres must point at 127.0.0.1, got ${values.postgres.replace(/\/\/[^@/]*@/, "//…@")}`);
  process.exit(2);
}
// This machine's open-file limit is 20 000 per process: the server holds one
// socket per connection (plus its own few), each client process its share.
if (connections > 19_800 || fanoutClients > 19_800) {
  console.error("--connections and --fanout-clients must stay under the open-file limit (20 000 per process, a few kept for the server's own files)");
  process.exit(2);
}

const names = runNames();
const nats = contenders.includes("hub") ? await natsFor(values.nats) : undefined;
let cleaning: Promise<void> | undefined;
const cleanup = () => {
  cleaning ??= (async () => {
    killAll();
    nats?.stop();
    if (contenders.includes("hub")) await dropRunDatabases(values.postgres, names).catch((e: unknown) => console.error(`cleanup failed: ${String(e)}`));
  })();
  return cleaning;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

const cpuSum = (r: { cpuUsPerDelivery: number[] }) => r.cpuUsPerDelivery.reduce((x, y) => x + y, 0);
const cpuText = (r: { cpuUsPerDelivery: number[] }) => `${r.cpuUsPerDelivery.map((c) => c.toFixed(1)).join(" + ")}${r.cpuUsPerDelivery.length > 1 ? ` = ${cpuSum(r).toFixed(1)}` : ""}`;
const load = () => loadavg()[0]!.toFixed(1);
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const ms = (n: number) => (Number.isNaN(n) ? "–" : n.toFixed(1));
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

const tokens = contenders.includes("hub") ? await mintTokens(Math.max(phases.includes("hold") ? connections : 0, phases.includes("fanout") ? fanoutClients : 0)) : undefined;
// Each hub phase gets a database of its own (<run prefix><phase>_messaging): the
// fan-out's large group must not follow its users into the next phase, where
// every connection would announce its presence to all of them.
let phaseNumber = 0;
const serverOptions = (phase: string): ServerOptions => ({
  payloadBytes,
  ...(nats ? { nats: { url: nats.url, prefix: names.subjectPrefix } } : {}),
  postgres: { url: values.postgres, databasePrefix: `${names.databasePrefix}${phase}_` },
  ...(tokens ? { auth: { issuer: tokens.issuer, jwks: tokens.jwks, senderToken: tokens.sender } } : {}),
});

const profileDir = join(tmpdir(), "flotilla-bench-realtime");
if (values.profile) console.log(`  --profile: CPU profiles of the server processes in ${profileDir}`);

async function startServer(kind: "ws" | "hub", tag: string, phase: string): Promise<{ child: Child; url: string }> {
  // BENCH_SERVER_FLAGS: Node flags for the server processes (e.g. "--max-semi-space-size=2"), to try V8 settings.
  const flags = (process.env.BENCH_SERVER_FLAGS ?? "").split(" ").filter((f) => f !== "");
  const execArgv = ["--expose-gc", ...flags, ...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${kind}-${tag}-${Date.now()}.cpuprofile`] : [])];
  const child = await spawnChild("./server.ts", [kind, JSON.stringify(serverOptions(phase))], execArgv);
  return { child, url: `ws://127.0.0.1:${String(child.hello.ready)}/v1/realtime` };
}

/** Forks the client processes of a phase. */
function spawnClients(count: number): Promise<Child[]> {
  return Promise.all(Array.from({ length: Math.min(clientProcesses, count) }, () => spawnChild("./clients.ts", [])));
}

/**
 * Opens connections for users from…from+count-1, shared between the client processes.
 * `grouped`: each process gets a block of users and opens its sockets after the previous one,
 * so that both the ws server's sockets and the hub's members are in blocks by process;
 * `interleaved`: users dealt out in turn and the processes open at once. Unset: blocks, at once.
 */
async function openClients(clients: Child[], kind: "ws" | "hub", url: string, from: number, count: number, ordered?: "grouped" | "interleaved"): Promise<OpenReply> {
  const share = (i: number) => Math.floor(count / clients.length) + (i < count % clients.length ? 1 : 0);
  const usersOf = (i: number): number[] => {
    if (ordered === "interleaved") return Array.from({ length: share(i) }, (_, k) => from + i + k * clients.length);
    let start = from;
    for (let j = 0; j < i; j++) start += share(j);
    return Array.from({ length: share(i) }, (_, k) => start + k);
  };
  const openOn = (c: Child, i: number) => {
    const users = tokens && kind === "hub" ? usersOf(i).map((u) => tokens.users[u]!) : undefined;
    return c.ask<OpenReply>({ op: "open", url, count: share(i), hello: kind === "hub", concurrency: 64, ...(users ? { tokens: users } : {}) }, 600_000);
  };
  const replies: OpenReply[] = [];
  if (ordered === "grouped") for (const [i, c] of clients.entries()) replies.push(await openOn(c, i));
  else replies.push(...(await Promise.all(clients.map(openOn))));
  const firstError = replies.find((r) => r.firstError)?.firstError;
  if (firstError) console.log(`  ${kind}: ${replies.reduce((n, r) => n + r.failed, 0)} connections failed, first: ${firstError}`);
  return { ok: replies.reduce((n, r) => n + r.ok, 0), failed: replies.reduce((n, r) => n + r.failed, 0), ms: ordered === "grouped" ? replies.reduce((n, r) => n + r.ms, 0) : Math.max(...replies.map((r) => r.ms)) };
}

interface HoldResult {
  held: number;
  failed: number;
  openMs: number;
  /** RSS above the idle server's, with every connection held. */
  rssGrowth: number;
  /** RSS above the idle server's, per connection held. */
  rssPerConn: number;
  /** RSS added by the second half of the connections, per connection: the marginal cost. */
  rssSlope: number;
  heapPerConn: number;
  heapSlope: number;
  /** V8 heap committed (heapTotal) above idle, per connection: heap pages kept, used or not. */
  committedPerConn: number;
  cpuUsPerOpen: number;
  load: string;
}

async function hold(kind: "ws" | "hub"): Promise<HoldResult> {
  const { child: server, url } = await startServer(kind, "hold", `p${++phaseNumber}`);
  let clients: Child[] = [];
  try {
    clients = await spawnClients(connections);
    if (warmupConnections > 0) {
      await openClients(clients, kind, url, 0, warmupConnections);
      await Promise.all(clients.map((c) => c.ask({ op: "close" })));
      for (let i = 0; i < 100 && (await server.ask<MemReply>({ op: "mem" })).sockets > 0; i++) await sleep(100);
    }
    const idle = await server.ask<MemReply>({ op: "mem", shrink: values["shrink-gc"] });
    const cpu0 = await cpuMsOf(server.pid);
    // In two halves: the slope between them is the cost of one more connection,
    // free of what the process grows once (young generation, pools, code).
    const half = Math.floor(connections / 2);
    const first = await openClients(clients, kind, url, 0, half);
    await sleep(300);
    const middle = await server.ask<MemReply>({ op: "mem", shrink: values["shrink-gc"] });
    const second = await openClients(clients, kind, url, half, connections - half);
    const cpu1 = await cpuMsOf(server.pid);
    await sleep(300);
    const after = await server.ask<MemReply>({ op: "mem", shrink: values["shrink-gc"] });
    if (values.profile) await server.ask({ op: "exit" }).catch(() => {});
    const held = after.sockets;
    const added = after.sockets - middle.sockets;
    return {
      held,
      failed: first.failed + second.failed,
      openMs: first.ms + second.ms,
      rssGrowth: after.rss - idle.rss,
      rssPerConn: (after.rss - idle.rss) / held,
      rssSlope: (after.rss - middle.rss) / added,
      heapPerConn: (after.heapUsed + after.external - idle.heapUsed - idle.external) / held,
      heapSlope: (after.heapUsed + after.external - middle.heapUsed - middle.external) / added,
      committedPerConn: (after.heapTotal - idle.heapTotal) / held,
      cpuUsPerOpen: ((cpu1 - cpu0) * 1000) / held,
      load: load(),
    };
  } finally {
    await server.kill(values.profile ? 10_000 : 0);
    for (const c of clients) await c.kill();
  }
}

interface FanoutResult {
  clients: number;
  /** From the send call (ws: the start of the send loop) to each socket. */
  latency: Latency;
  /** From the send call's return (the commit, and the publishes handed to NATS) to each socket. */
  afterCall: Latency;
  /** Per message, from the send call to its last socket: the median over the messages. */
  lastSocketMs: number;
  missing: number;
  callMs: number;
  /** Server CPU per socket reached: ws; hub: replica A, replica B, nats-server (own only). */
  cpuUsPerDelivery: number[];
  load: string;
}

async function fanout(kind: "ws" | "hub"): Promise<FanoutResult> {
  const servers: Child[] = [];
  let clients: Child[] = [];
  try {
    // ws: one server sends to its own sockets. hub: replica A takes the send,
    // replica B holds the sockets; the message crosses NATS between them.
    const phase = `p${++phaseNumber}`;
    const a = await startServer(kind, "fanout-a", phase);
    servers.push(a.child);
    const b = kind === "hub" ? await startServer(kind, "fanout-b", phase) : a;
    if (b !== a) servers.push(b.child);
    clients = await spawnClients(fanoutClients);
    const opened = await openClients(clients, kind, b.url, 0, fanoutClients, order);
    const expected = opened.ok;
    if (kind === "hub") await a.child.ask({ op: "seed", members: Array.from({ length: fanoutClients }, (_, i) => userId(i)) });
    const pids = [...servers.map((s) => s.pid), ...(kind === "hub" && nats?.pid ? [nats.pid] : [])];
    const t0s = new Map<number, SendReply>();
    const calls: number[] = [];
    const total = warmupMessages + messages;
    const deadline = wallClock() + durationMs;
    let cpuStart: number[] = [];
    let sent = 0;
    for (let n = 1; n <= total && wallClock() < deadline; n++) {
      if (n === warmupMessages + 1) cpuStart = await Promise.all(pids.map(cpuMsOf));
      const reply = await a.child.ask<SendReply>({ op: kind === "hub" ? "send" : "broadcast", n });
      sent = n;
      if (n > warmupMessages) {
        t0s.set(n, reply);
        calls.push(reply.callMs);
      }
      // Each broadcast alone: wait until every socket has it (or 10 s), then a short pause.
      const until = wallClock() + 10_000;
      for (;;) {
        const counts = await Promise.all(clients.map((c) => c.ask<{ received: number }>({ op: "count" })));
        if (counts.reduce((x, c) => x + c.received, 0) >= expected * n || wallClock() > until) break;
        await sleep(10);
      }
      await sleep(50);
    }
    const cpuEnd = await Promise.all(pids.map(cpuMsOf));
    const samples: number[] = [];
    const afterCall: number[] = [];
    const last = new Map<number, number>();
    for (const c of clients) {
      const { arrivals } = await c.ask<{ arrivals: Array<[number, number[]]> }>({ op: "collect" });
      for (const [tag, times] of arrivals) {
        const sent = t0s.get(tag);
        if (sent === undefined) continue;
        for (const t of times) {
          samples.push(t - sent.t0);
          afterCall.push(t - sent.t0 - sent.callMs);
          last.set(tag, Math.max(last.get(tag) ?? 0, t - sent.t0));
        }
      }
    }
    const measured = Math.max(0, sent - warmupMessages);
    if (values.profile) for (const s of servers) await s.ask({ op: "exit" }).catch(() => {});
    return {
      clients: expected,
      latency: summarise(samples),
      afterCall: summarise(afterCall),
      lastSocketMs: summarise([...last.values()]).p50Ms,
      missing: expected * measured - samples.length,
      callMs: summarise(calls).p50Ms,
      cpuUsPerDelivery: cpuEnd.map((end, i) => (measured > 0 ? ((end - (cpuStart[i] ?? 0)) * 1000) / (measured * expected) : Number.NaN)),
      load: load(),
    };
  } finally {
    // The sockets' replica first: closing thousands of clients before it would only add work.
    for (const s of [...servers].reverse()) await s.kill(values.profile ? 10_000 : 0);
    for (const c of clients) await c.kill();
  }
}

console.log(
  `Realtime benchmark — node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}; hold ${connections} connections (after ${warmupConnections} opened and closed), fan out ${payloadBytes}-byte messages to ${fanoutClients} sockets (${order}) ` +
    `(${warmupMessages} warm-up + ${messages} measured, at most ${durationMs} ms), ${clientProcesses} client processes, ${rounds} round(s)${values["shrink-gc"] ? "; memory after last-resort GCs" : ""}`,
);
if (nats) console.log(`  NATS: ${values.nats === "own" ? "own nats-server at " : ""}${nats.url}, subjects ${names.subjectPrefix}.*; PostgreSQL databases ${names.databasePrefix}*`);
console.log("  ws   a bare ws WebSocketServer (ws 8, no compression) that accepts, holds, and sends one payload to every socket in a loop");
console.log("  hub  the messaging service's realtime hub (authenticated sockets, hello/ready, one NATS subscription per replica);");
console.log("       fan-out: a message sent on replica A (contract handler: PostgreSQL transaction, outbox) reaches sockets on replica B");

const holds = new Map<string, HoldResult[]>(contenders.map((c) => [c, []]));
const fanouts = new Map<string, FanoutResult[]>(contenders.map((c) => [c, []]));
try {
  for (let round = 1; round <= rounds; round++) {
    // Interleaved: a burst of other load on the machine does not land on one contender only.
    if (phases.includes("hold")) {
      for (const kind of contenders) {
        const r = await hold(kind);
        holds.get(kind)!.push(r);
        console.log(
          `round ${round} hold   ${kind.padEnd(3)} held ${r.held} (failed ${r.failed}) in ${(r.openMs / 1000).toFixed(1)} s  RSS ${kb(r.rssPerConn)} KB/conn (2nd half ${kb(r.rssSlope)})  heap+external ${kb(r.heapPerConn)} KB/conn (2nd half ${kb(r.heapSlope)})  heap committed ${kb(r.committedPerConn)} KB/conn  server CPU ${r.cpuUsPerOpen.toFixed(0)} µs/open  load ${r.load}`,
        );
      }
    }
    if (phases.includes("fanout")) {
      for (const kind of contenders) {
        const r = await fanout(kind);
        fanouts.get(kind)!.push(r);
        console.log(
          `round ${round} fanout ${kind.padEnd(3)} ${r.clients} sockets  p50 ${ms(r.latency.p50Ms)} ms  p99 ${ms(r.latency.p99Ms)} ms  max ${ms(r.latency.maxMs)} ms  (after the call: p50 ${ms(r.afterCall.p50Ms)} p99 ${ms(r.afterCall.p99Ms)})  last socket ${ms(r.lastSocketMs)} ms  missing ${r.missing}  send call p50 ${ms(r.callMs)} ms  server CPU ${cpuText(r)} µs/delivery  load ${r.load}`,
        );
      }
    }
  }
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}

// Per contender, the round least disturbed by other load: the least memory, the lowest p99.
const leastMem = (rs: HoldResult[]) => rs.reduce((x, y) => (y.rssPerConn < x.rssPerConn ? y : x));
const bestP99 = (rs: FanoutResult[]) => rs.reduce((x, y) => (y.latency.p99Ms < x.latency.p99Ms ? y : x));
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
/** RSS above idle at 50 000: what was measured, plus the marginal cost of each connection beyond. */
const projected = (r: HoldResult) => r.rssGrowth + Math.max(0, r.rssSlope) * Math.max(0, 50_000 - r.held);

if ([...holds.values()].some((r) => r.length > 0)) {
  console.log("\n| contender | held | failed | RSS KB/conn (from idle) | RSS KB/conn (2nd half) | heap+external KB/conn (from idle / 2nd half) | 50k projected MB | server CPU µs/open |");
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|");
  for (const [kind, rs] of holds) {
    if (rs.length === 0) continue;
    const r = leastMem(rs);
    console.log(`| ${kind} | ${r.held} | ${r.failed} | ${kb(r.rssPerConn)} | ${kb(r.rssSlope)} | ${kb(r.heapPerConn)} / ${kb(r.heapSlope)} | ${mb(projected(r))} | ${r.cpuUsPerOpen.toFixed(0)} |`);
  }
}
if ([...fanouts.values()].some((r) => r.length > 0)) {
  console.log(`\n| contender | sockets | p50 ms | p99 ms | max ms | after the call p50 / p99 ms | last socket ms | missing | send call p50 ms | server CPU µs/delivery (hub: A + B + nats-server) |`);
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const [kind, rs] of fanouts) {
    if (rs.length === 0) continue;
    const r = bestP99(rs);
    console.log(`| ${kind} | ${r.clients} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} | ${ms(r.latency.maxMs)} | ${ms(r.afterCall.p50Ms)} / ${ms(r.afterCall.p99Ms)} | ${ms(r.lastSocketMs)} | ${r.missing} | ${ms(r.callMs)} | ${cpuText(r)} |`);
  }
}

const hubHold = holds.get("hub")?.length ? leastMem(holds.get("hub")!) : undefined;
const wsHold = holds.get("ws")?.length ? leastMem(holds.get("ws")!) : undefined;
const hubFan = fanouts.get("hub")?.length ? bestP99(fanouts.get("hub")!) : undefined;
const wsFan = fanouts.get("ws")?.length ? bestP99(fanouts.get("ws")!) : undefined;
const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
console.log("");
if (hubHold) console.log(`- connections held by one replica: ${hubHold.held} (goal ≥ 19 000 — ${verdict(hubHold.held >= 19_000)}${connections < 19_000 ? `; only ${connections} asked` : ""})`);
if (hubHold && wsHold) {
  const r = hubHold.rssPerConn / wsHold.rssPerConn;
  console.log(`- memory per connection, hub / ws: ${r.toFixed(2)}× (${kb(hubHold.rssPerConn)} vs ${kb(wsHold.rssPerConn)} KB; goal ≤ 1.2× — ${verdict(r <= 1.2)})`);
}
if (hubHold) console.log(`- 50 000 connections on one replica ≈ ${mb(projected(hubHold))} MB above its idle RSS (measured at ${hubHold.held}, plus ${kb(hubHold.rssSlope)} KB for each one beyond)`);
if (hubHold && wsHold) console.log(`- V8 heap + external per connection, hub / ws: ${(hubHold.heapPerConn / wsHold.heapPerConn).toFixed(2)}× (${kb(hubHold.heapPerConn)} vs ${kb(wsHold.heapPerConn)} KB)`);
if (hubFan && wsFan) {
  const r = hubFan.latency.p99Ms / wsFan.latency.p99Ms;
  console.log(
    `- broadcast p99, hub across two replicas / ws: ${r.toFixed(2)}× (${ms(hubFan.latency.p99Ms)} vs ${ms(wsFan.latency.p99Ms)} ms; goal ≤ 1.2× — ${verdict(r <= 1.2)}); p50 ${(hubFan.latency.p50Ms / wsFan.latency.p50Ms).toFixed(2)}×; server CPU per delivery ${(cpuSum(hubFan) / cpuSum(wsFan)).toFixed(2)}×`,
  );
}
console.log(`- load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(" ")} (other sessions share this machine: compare ratios within one run)`);
