import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { get } from "node:http";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { workerCount } from "./workers.ts";

const server = fileURLToPath(new URL("../test/support/workers-server.ts", import.meta.url));

function start(env: Record<string, string>): Promise<{ child: ChildProcess; message: { port?: number; failed?: string } }> {
  const child = fork(server, [], { env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (message) => resolve({ child, message: message as { port?: number; failed?: string } }));
    child.once("exit", (code) => reject(new Error(`the server exited with ${code} before it answered`)));
  });
}

/** One request on a connection of its own, so each reaches the worker the primary hands that connection to. */
function pidAt(port: number, path = "/"): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on("end", () => resolve(Number(body)));
    }).on("error", reject);
  });
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function pidsAt(port: number, requests: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < requests; i++) pids.add(await pidAt(port));
  return pids;
}

test("workers share one port, a dead one is started again, SIGTERM drains them all", async () => {
  const { child, message } = await start({ WORKERS: "2" });
  try {
    const port = message.port!;
    const first = await pidsAt(port, 6);
    assert.equal(first.size, 2, "connections are spread over both workers");
    assert.ok(!first.has(child.pid!), "the primary runs no server code");

    const [gone] = first;
    await pidAt(port, "/exit").catch(() => undefined);
    let now = new Set<number>();
    for (let i = 0; i < 50 && (now.size < 2 || now.has(gone!)); i++) {
      await sleep(50);
      now = await pidsAt(port, 4);
    }
    assert.equal(now.size, 2, "the dead worker was replaced");
    assert.ok(!now.has(gone!));

    child.kill("SIGTERM");
    assert.equal(await exited(child), 0);
    for (const pid of now) assert.ok(!alive(pid), `worker ${pid} stopped with the primary`);
  } finally {
    child.kill("SIGKILL");
  }
});

test("one worker: the server runs in the process itself", async () => {
  const { child, message } = await start({ WORKERS: "1" });
  try {
    assert.equal(await pidAt(message.port!), child.pid);
    child.kill("SIGTERM");
    assert.equal(await exited(child), 0);
  } finally {
    child.kill("SIGKILL");
  }
});

test("a worker that cannot start fails the start instead of crashing in a loop", async () => {
  const { child, message } = await start({ WORKERS: "2", FAIL_START: "1" });
  assert.match(message.failed ?? "", /exited .* before every worker listened/);
  assert.equal(await exited(child), 70);
});

test("workers: 0 is one per CPU", () => {
  assert.ok(workerCount(0) >= 1);
  assert.equal(workerCount(3), 3);
});
