// A private nats-server with JetStream for one test, which it may kill and
// restart at will; the shared server on the standard port is never touched.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./engines.ts";

export interface PrivateNats {
  readonly url: string;
  readonly port: number;
  /** The JetStream store; it survives kill() and restart(). */
  readonly storeDir: string;
  /** Kills the server (SIGKILL: no clean shutdown) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Kills it and removes its store. */
  destroy(): Promise<void>;
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "flotilla-nats-"));
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start on port ${port}:\n${log}`)), 15_000);
      const onData = (chunk: Buffer) => {
        log += chunk.toString("utf8");
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}) while starting:\n${log}`));
      });
      proc.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  };

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    kill,
    restart: start,
    destroy: async () => {
      await kill();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
