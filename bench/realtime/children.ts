// The benchmark's child processes: forked with an IPC channel, asked things
// with request/reply messages, killed by their own pid when a phase ends.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { processCpuMs } from "../support/engines.ts";

export interface Child {
  readonly pid: number;
  /** What the child sent with its first message ({ready: …}). */
  readonly hello: Record<string, unknown>;
  ask<T>(request: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** SIGKILL, or first `graceMs` to exit by itself (a --cpu-prof profile is written at exit). */
  kill(graceMs?: number): Promise<void>;
}

const living = new Set<ChildProcess>();

/** Forks `script` (beside this file) and waits for its first message. */
export async function spawnChild(script: string, args: string[], execArgv: string[] = []): Promise<Child> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv });
  living.add(child);
  let nextId = 1;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      living.delete(child);
      for (const w of waiting.values()) w.reject(new Error(`${script} exited (${code ?? signal})`));
      waiting.clear();
      resolve();
    }),
  );
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once("message", (m) => resolve(m as Record<string, unknown>));
    child.once("exit", (code, signal) => reject(new Error(`${script} ${args[0] ?? ""} exited (${code ?? signal}) before it was ready`)));
  });
  child.on("message", (m) => {
    const { id, result, error } = m as { id: number; result?: unknown; error?: string };
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    if (error !== undefined) w.reject(new Error(`${script}: ${error}`));
    else w.resolve(result);
  });
  return {
    pid: child.pid!,
    hello,
    ask<T>(request: Record<string, unknown>, timeoutMs = 120_000) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${script}: no answer to ${String(request.op)} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, ...request });
      });
    },
    async kill(graceMs = 0) {
      if (graceMs > 0) await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
      // SIGKILL: a graceful close of thousands of sockets would only add noise (and presence storms).
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Kills every child still alive (on failure or Ctrl-C). */
export function killAll(): void {
  for (const child of living) child.kill("SIGKILL");
}

/** CPU time (user + system) of a process in ms, from /proc (0 where there is none). */
export async function cpuMsOf(pid: number): Promise<number> {
  return processCpuMs(pid);
}
