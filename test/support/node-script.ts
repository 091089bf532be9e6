// A TypeScript script run as its own Node process (crash tests' services),
// with its output captured line by line so a test can wait for what it says.
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

export interface Script {
  child: ChildProcess;
  output(): string;
  /** Output lines matching `re`, in order. */
  lines(re: RegExp): string[];
  /** Resolves with the first capture group (or the match) of the first output matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. Resolves at once if it already exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every script started and not yet reaped, so a test's `after` can kill them all. */
const running = new Set<Script>();

export function runScript(file: string, env: NodeJS.ProcessEnv = {}, options: { args?: readonly string[]; cwd?: string } = {}): Script {
  const child = spawn(process.execPath, [file, ...(options.args ?? [])], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...process.env, FLOTILLA_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString("utf8");
    for (const w of waiters) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const script: Script = {
    child,
    exited,
    output: () => out,
    lines: (re) => out.split("\n").filter((line) => re.test(line)),
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m[1] ?? m[0]);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${re}; output so far:\n${out.slice(-4000)}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(check)) return;
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`process exited (${code ?? signal}) before ${re}; output:\n${out.slice(-4000)}`));
        });
        check();
      });
    },
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(script);
  void exited.then(() => running.delete(script));
  return script;
}

/** Kills every script still running (for `after` hooks: the test may have failed half-way). */
export async function killAllScripts(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop("SIGKILL")));
}

/** Polls `check` until it returns true; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(100);
  }
}
