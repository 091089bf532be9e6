import assert from "node:assert/strict";
import { test } from "node:test";
import { messagingV1 } from "@flotilla/contracts";
import { FlotillaError } from "@flotilla/kit";
import { decodePageToken, directKey, encodePageToken, membersOf, previewOf } from "./domain.ts";

test("a direct conversation's key is the same whoever starts it", () => {
  assert.equal(directKey("a", "b"), directKey("b", "a"));
  assert.notEqual(directKey("a", "bc"), directKey("ab", "c"));
});

test("members: the caller first; direct needs exactly one other; nobody lists themself", () => {
  assert.deepEqual(membersOf(messagingV1.ConversationKind.GROUP, "a", ["b", "c"]), ["a", "b", "c"]);
  for (const [kind, others] of [
    [messagingV1.ConversationKind.DIRECT, ["b", "c"]],
    [messagingV1.ConversationKind.GROUP, ["a"]],
  ] as const) {
    assert.throws(() => membersOf(kind, "a", others), (e) => e instanceof FlotillaError && e.code === "MESSAGING_ERR_BAD_MEMBERS");
  }
});

test("previews stop at 120 characters without splitting a character", () => {
  assert.equal(previewOf("short"), "short");
  const long = "😀".repeat(200);
  const preview = previewOf(long);
  assert.equal(Array.from(preview).length, 120);
  assert.ok(preview.endsWith("…"));
  assert.ok(!preview.includes("\uFFFD"));
});

test("page tokens round-trip; altered ones are a typed error", () => {
  const cursor = { at: "2026-11-25 14:50:00.123456+00", id: "c1" };
  assert.deepEqual(decodePageToken(encodePageToken(cursor)), cursor);
  assert.equal(decodePageToken(""), undefined);
  for (const bad of ["%%%", Buffer.from('{"at":"yesterday","id":"c"}').toString("base64url"), Buffer.from("[]").toString("base64url")]) {
    assert.throws(() => decodePageToken(bad), (e) => e instanceof FlotillaError && e.code === "MESSAGING_ERR_BAD_PAGE_TOKEN");
  }
});
