// The in-process window counters (the Redis ones, and undo on both, are in
// gateway/test/rate-limit-shared.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { type CountedHit, WindowCounter } from "./rate-limit-counter.ts";

const start = 1_700_000_040_000; // a multiple of 60 s: the start of a window
const inMemory = () => new WindowCounter({ windowSec: 60, keyPrefix: "test" });
const counted = (hit: CountedHit | Promise<CountedHit>): CountedHit => {
  // In this process a hit is counted at once: no promise on the hot path.
  assert.ok(!(hit instanceof Promise));
  return hit;
};

test("counts per key within a window, and reports the time elapsed in it", () => {
  const counter = inMemory();
  assert.deepEqual(
    [counted(counter.hit("a", start)), counted(counter.hit("a", start + 5)), counted(counter.hit("b", start + 7))].map(({ previous, current, elapsedMs }) => ({ previous, current, elapsedMs })),
    [
      { previous: 0, current: 1, elapsedMs: 0 },
      { previous: 0, current: 2, elapsedMs: 5 },
      { previous: 0, current: 1, elapsedMs: 7 },
    ],
  );
});

test("the next window sees this one as its previous; a window later still, both are gone", () => {
  const counter = inMemory();
  for (let i = 0; i < 3; i++) counter.hit("a", start + i);
  const next = counted(counter.hit("a", start + 60_000 + 10));
  assert.equal(next.previous, 3);
  assert.equal(next.current, 1);
  const later = counted(counter.hit("a", start + 3 * 60_000));
  assert.equal(later.previous, 0);
  assert.equal(later.current, 1);
});

test("undo takes the hit back from the window it was counted in, even after the window turned", () => {
  const counter = inMemory();
  counter.hit("a", start);
  const second = counted(counter.hit("a", start + 1));
  counted(counter.hit("a", start + 60_000)); // the window turns
  second.undo();
  assert.equal(counted(counter.hit("a", start + 60_001)).previous, 1);
});

test("a clock stepping back into an earlier window still counts, in the current one", () => {
  const counter = inMemory();
  counter.hit("a", start + 60_000);
  assert.equal(counted(counter.hit("a", start + 59_000)).current, 2);
});
