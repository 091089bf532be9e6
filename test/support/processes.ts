// Helpers for end-to-end tests that run the real `flotilla` command.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { runScript } from "./node-script.ts";

export const repoRoot = join(import.meta.dirname, "..", "..");
export const flotillaBin = join(repoRoot, "packages", "cli", "bin", "flotilla.js");

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first capture group of the first output line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function runFlotilla(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const script = runScript(flotillaBin, env, { args, cwd: repoRoot });
  return {
    child: script.child,
    output: script.output,
    waitFor: script.waitFor,
    async stop(signal = "SIGTERM") {
      await script.stop(signal, 15_000);
      return script.child.exitCode;
    },
  };
}

export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; type: string; body: unknown; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, type: res.headers.get("content-type") ?? "", body, headers: res.headers };
}
