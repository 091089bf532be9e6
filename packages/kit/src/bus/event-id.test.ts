import assert from "node:assert/strict";
import { test } from "node:test";
import { eventId } from "./event-id.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("eventId is a UUIDv7 carrying the given millisecond", () => {
  const at = Date.UTC(2026, 11, 6, 12, 0, 0, 123);
  const id = eventId(at);
  assert.match(id, UUID_V7);
  assert.equal(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16), at);
});

test("eventId stays unique and well-formed across many draws of its random pool", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const id = eventId(1_700_000_000_000);
    assert.match(id, UUID_V7);
    ids.add(id);
  }
  assert.equal(ids.size, 5000);
});

test("eventIds sort by their millisecond", () => {
  const ids = [3, 1, 2].map((offset) => eventId(1_700_000_000_000 + offset));
  assert.deepEqual([...ids].sort(), [ids[1], ids[2], ids[0]]);
});
