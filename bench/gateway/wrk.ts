// One wrk run and what it printed: requests per second and latency percentiles.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Target {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses that were not 2xx/3xx, and socket errors: a run with any is not valid. */
  readonly errors: number;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (m === null) throw new Error(`wrk latency "${text}" not understood`);
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : n * 1000;
}

export async function wrk(target: Target, connections: number, durationSec: number, workDir: string): Promise<WrkResult> {
  const script = join(workDir, `wrk-${target.method}-${connections}.lua`);
  const lines = [`wrk.method = ${JSON.stringify(target.method)}`];
  if (target.body !== undefined) lines.push(`wrk.body = ${JSON.stringify(target.body)}`);
  for (const [name, value] of Object.entries(target.headers)) lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  writeFileSync(script, `${lines.join("\n")}\n`);
  const { stdout } = await run("wrk", ["-t1", `-c${connections}`, `-d${durationSec}s`, "--latency", "-s", script, target.url], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(stdout)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(stdout)?.[1];
  if (!Number.isFinite(rps) || p50 === undefined || p99 === undefined) throw new Error(`wrk output not understood:\n${stdout}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return { rps, p50Ms: ms(p50), p99Ms: ms(p99), errors: non2xx + socketErrors };
}
