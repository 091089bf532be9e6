import assert from "node:assert/strict";
import { test } from "node:test";
import { decide } from "./rate-limit-window.ts";

test("allows up to the limit within one window and counts down", () => {
  assert.deepEqual(decide({ previous: 0, current: 1, elapsedMs: 0 }, 3, 1000), { allowed: true, remaining: 2, retryAfterMs: 0, resetMs: 1000 });
  const last = decide({ previous: 0, current: 3, elapsedMs: 400 }, 3, 1000);
  assert.equal(last.allowed, true);
  assert.equal(last.remaining, 0);
  assert.equal(last.resetMs, 600);
  assert.ok(last.retryAfterMs > 0);
  assert.equal(decide({ previous: 0, current: 4, elapsedMs: 400 }, 3, 1000).allowed, false);
});

test("the previous window weighs in proportion to its overlap, so there is no double burst at the boundary", () => {
  // 10 used just before the boundary: right after it, almost all still count.
  assert.equal(decide({ previous: 10, current: 1, elapsedMs: 10 }, 10, 1000).allowed, false);
  // Half-way through the next window, half of them have slid out.
  const half = decide({ previous: 10, current: 1, elapsedMs: 500 }, 10, 1000);
  assert.equal(half.allowed, true);
  assert.equal(half.remaining, 4);
  assert.equal(decide({ previous: 10, current: 5, elapsedMs: 500 }, 10, 1000).allowed, true);
  assert.equal(decide({ previous: 10, current: 6, elapsedMs: 500 }, 10, 1000).allowed, false);
});

test("a rejected request says how long until the next one fits", () => {
  // previous 10, 5 counted now at 500 ms: one more fits when 10*(1000-500-t)/1000 + 5 + 1 <= 10 → t = 100.
  const d = decide({ previous: 10, current: 5 + 1, elapsedMs: 500 }, 10, 1000);
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfterMs, 100);
  // Current window alone is full: wait for the boundary and then for its weight to shrink.
  const full = decide({ previous: 0, current: 11, elapsedMs: 200 }, 10, 1000);
  assert.equal(full.allowed, false);
  assert.equal(full.retryAfterMs, 800 + 100);
  assert.ok(decide({ previous: 0, current: 4, elapsedMs: 999 }, 3, 1000).retryAfterMs >= 1);
});
