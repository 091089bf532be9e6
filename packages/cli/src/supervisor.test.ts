import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Supervisor } from "./supervisor.ts";

const quiet = { output: () => {} };

test("restarts a process killed with SIGKILL and counts the restart", async () => {
  const sup = new Supervisor({ ...quiet, backoffMs: 50 });
  sup.add({ name: "sleeper", command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"], env: process.env });
  const first = sup.list()[0]!;
  assert.equal(first.status, "running");
  const restarted = once(sup, "start");
  process.kill(first.pid!, "SIGKILL");
  const [state] = await restarted;
  assert.notEqual(state.pid, first.pid);
  assert.equal(state.restarts, 1);
  assert.equal(sup.list()[0]?.lastExit, "signal SIGKILL");
  await sup.stop();
  assert.equal(sup.list()[0]?.status, "stopped");
});

test("backs off exponentially for a process that keeps failing, up to the cap", async () => {
  const sup = new Supervisor({ ...quiet, backoffMs: 20, maxBackoffMs: 80 });
  const delays: (number | undefined)[] = [];
  sup.on("exit", (s) => delays.push(s.restartInMs));
  sup.add({ name: "crasher", command: process.execPath, args: ["-e", "process.exit(3)"], env: process.env });
  while (delays.length < 4) await once(sup, "exit");
  await sup.stop();
  assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 80]);
  assert.equal(sup.list()[0]?.lastExit, "code 3");
});

test("stop sends SIGTERM and waits for a graceful exit", async () => {
  const lines: string[] = [];
  const sup = new Supervisor({ output: (_name, line) => lines.push(line), stopGraceMs: 20_000 });
  const script = "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 100)); console.log('ready'); setInterval(() => {}, 1000)";
  sup.add({ name: "graceful", command: process.execPath, args: ["-e", script], env: process.env });
  while (!lines.includes("ready")) await new Promise((r) => setTimeout(r, 20));
  await sup.stop();
  assert.equal(sup.list()[0]?.lastExit, "code 0");
  assert.equal(sup.list()[0]?.status, "stopped");
});

test("a process that ignores SIGTERM is killed after the grace period", async () => {
  const lines: string[] = [];
  const sup = new Supervisor({ output: (_name, line) => lines.push(line), stopGraceMs: 300 });
  const script = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)";
  sup.add({ name: "stubborn", command: process.execPath, args: ["-e", script], env: process.env });
  while (!lines.includes("ready")) await new Promise((r) => setTimeout(r, 20));
  await sup.stop();
  assert.equal(sup.list()[0]?.lastExit, "signal SIGKILL");
});
