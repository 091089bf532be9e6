import assert from "node:assert/strict";
import { test } from "node:test";
import { recipientChunks } from "./hub.ts";

test("recipients fit one payload when small, and split below the byte limit when not, losing none", () => {
  assert.deepEqual(recipientChunks(["a", "b"]), ['["a","b"]']);
  assert.deepEqual(recipientChunks([]), []);
  const users = Array.from({ length: 1000 }, (_, i) => `user-${i}-${"é".repeat(i % 7)}`);
  const chunks = recipientChunks(users, 2000);
  assert.ok(chunks.length > 1);
  for (const c of chunks) assert.ok(Buffer.byteLength(c) <= 2000, `${Buffer.byteLength(c)} bytes`);
  assert.deepEqual(chunks.flatMap((c) => JSON.parse(c) as string[]), users);
  // A single id longer than the limit still goes out, alone.
  assert.deepEqual(recipientChunks(["x".repeat(50), "y"], 10), [`["${"x".repeat(50)}"]`, '["y"]']);
});
