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

test("backs off exponentially for a process that keeps failing", async () => {
  const sup = new Supervisor({ ...quiet, backoffMs: 40, maxBackoffMs: 1000 });
  const starts: number[] = [];
  sup.on("start", () => starts.push(Date.now()));
  sup.add({ name: "crasher", command: process.execPath, args: ["-e", "process.exit(3)"], env: process.env });
  while (starts.length < 4) await once(sup, "start");
  await sup.stop();
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  // 40, 80, 160 ms plus process start time: each gap grows.
  assert.ok(gaps[2]! > gaps[0]!, `gaps should grow: ${gaps}`);
  assert.ok(gaps[2]! >= 160, `third gap ${gaps[2]} >= 160`);
});

test("stop sends SIGTERM and waits for a graceful exit", async () => {
  const sup = new Supervisor({ ...quiet, stopGraceMs: 5000 });
  const script = "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 100)); setInterval(() => {}, 1000)";
  sup.add({ name: "graceful", command: process.execPath, args: ["-e", script], env: process.env });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await sup.stop();
  assert.equal(sup.list()[0]?.lastExit, "code 0");
  assert.ok(Date.now() - t0 < 4000);
});
