import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecentMessages } from "./recent-messages.ts";

describe("RecentMessages", () => {
  it("answers the message of a conversation's seq, once per seq", () => {
    const recent = new RecentMessages();
    recent.remember("c1", 1, "m1", "ana");
    recent.remember("c1", 1, "other", "bob");
    recent.remember("c2", 1, "n1", "bob");
    assert.deepEqual(recent.get("c1", 1), { messageId: "m1", senderId: "ana" });
    assert.deepEqual(recent.get("c2", 1), { messageId: "n1", senderId: "bob" });
    assert.equal(recent.get("c1", 2), undefined);
  });

  it("keeps the newest seqs of a conversation, whatever order they came in", () => {
    const recent = new RecentMessages(3, 100);
    for (const seq of [5, 6, 7]) recent.remember("c", seq, `m${seq}`, "ana");
    recent.remember("c", 2, "m2", "ana"); // an older page read by a catch-up: the lowest goes
    assert.equal(recent.get("c", 2), undefined);
    recent.remember("c", 8, "m8", "ana");
    assert.equal(recent.get("c", 5), undefined);
    assert.deepEqual([6, 7, 8].map((seq) => recent.get("c", seq)?.messageId), ["m6", "m7", "m8"]);
  });

  it("stays within its budget by dropping the conversations written least recently", () => {
    const recent = new RecentMessages(10, 4);
    recent.remember("a", 1, "a1", "x");
    recent.remember("b", 1, "b1", "x");
    recent.remember("a", 2, "a2", "x"); // a is now the most recently written
    recent.remember("c", 1, "c1", "x");
    recent.remember("c", 2, "c2", "x"); // five kept: b goes
    assert.equal(recent.get("b", 1), undefined);
    assert.ok(recent.get("a", 1) && recent.get("a", 2) && recent.get("c", 2));
  });
});
