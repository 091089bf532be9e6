import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DeadlineTimers } from "./deadline-timers.ts";

describe("DeadlineTimers", () => {
  it("expires each watched entry once, never before its deadline, and not an unwatched one", async () => {
    const timers = new DeadlineTimers();
    const fired: [string, number][] = [];
    const entry = (name: string) => ({ expire: () => fired.push([name, Date.now()]) });
    const started = Date.now();
    const a = entry("a");
    const b = entry("b");
    const c = entry("c");
    timers.watch(started + 20, a);
    const slice = timers.watch(started + 21, b);
    timers.watch(started + 60, c);
    timers.unwatch(slice, b);
    await sleep(100);
    assert.deepEqual(fired.map(([name]) => name), ["a", "c"]);
    assert.ok((fired[0]?.[1] ?? 0) >= started + 20, "not early");
    assert.ok((fired[1]?.[1] ?? 0) >= started + 60, "not early");
  });

  it("keeps no process alive once every call of a slice has settled, and rearms for a new one", async () => {
    const timers = new DeadlineTimers();
    let expired = 0;
    const entry = { expire: () => expired++ };
    const deadline = Date.now() + 20;
    const slice = timers.watch(deadline, entry);
    assert.equal(slice.timer?.hasRef(), true);
    timers.unwatch(slice, entry);
    assert.equal(slice.timer?.hasRef(), false, "an idle process can exit");
    const again = { expire: () => expired++ };
    assert.equal(timers.watch(deadline, again), slice, "the same slice, no new timer");
    assert.equal(slice.timer?.hasRef(), true);
    await sleep(40);
    assert.equal(expired, 1, "only the call still watched expires");
  });

  it("holds nothing for settled calls with far-off deadlines but the newest slice", () => {
    const timers = new DeadlineTimers();
    const now = Date.now();
    for (let i = 0; i < 1_000; i++) {
      const entry = { expire: () => assert.fail("settled") };
      // Deadlines up to days away, as a caller's connect-timeout-ms may ask.
      timers.unwatch(timers.watch(now + 86_400_000 * ((i % 7) + 1) + i * 10, entry), entry);
    }
    assert.equal(timers.armed, 1);
    const last = { expire: () => assert.fail("settled") };
    const slice = timers.watch(now + 1_000, last);
    timers.unwatch(slice, last);
    assert.equal(timers.armed, 1, "the newest slice replaced the previous one");
    assert.equal(slice.timer?.hasRef(), false);
  });
});
