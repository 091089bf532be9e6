// Engines a benchmark starts for itself, and the CPU time of processes read
// from /proc, so that a benchmark can show what each engine spends per
// operation — the steadier figure on a machine shared with other work.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

// Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux).
const TICKS_PER_SECOND = 100;

/** User + system CPU milliseconds a process has used so far, or 0 when it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces), from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Busy CPU milliseconds of the whole machine so far (all cores; idle and iowait left out). */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] as string;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / TICKS_PER_SECOND;
}

/** The PostgreSQL backends serving connections to the databases whose names start with `prefix`. */
export async function postgresBackendPids(url: string, prefix: string): Promise<number[]> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const pattern = `${prefix.replaceAll("_", "\\_")}%`;
    const rows = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname LIKE ${pattern}`;
    return rows.map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

export interface OwnNats {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `nats-server` (from the PATH, or BENCH_NATS_SERVER) on a free loopback port, with JetStream in a temporary store if asked. */
export async function startOwnNats(options: { jetstream?: boolean } = {}): Promise<OwnNats> {
  const port = await freePort();
  const store = options.jetstream ? mkdtempSync(join(tmpdir(), "bench-nats-")) : undefined;
  const args = ["-a", "127.0.0.1", "-p", String(port), ...(store === undefined ? [] : ["-js", "-sd", store])];
  const proc: ChildProcess = spawn(process.env.BENCH_NATS_SERVER ?? "nats-server", args, { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let log = "";
    proc.once("error", reject);
    proc.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
    proc.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Server is ready")) resolve();
    });
  });
  proc.removeAllListeners("exit");
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: proc.pid as number,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once("exit", resolve));
        proc.kill("SIGTERM");
        await exited;
      }
      if (store !== undefined) rmSync(store, { recursive: true, force: true });
    },
  };
}
