import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenBucket } from "./rate-limit.ts";

test("a burst is allowed, then the rate, refilled with time", () => {
  let now = 0;
  const bucket = new TokenBucket(10, 3, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
  now += 100; // one token at 10 per second
  assert.deepEqual([bucket.take(), bucket.take()], [true, false]);
  now += 60_000; // never more than the burst
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
});
