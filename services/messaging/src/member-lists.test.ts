import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemberLists } from "./member-lists.ts";

describe("MemberLists", () => {
  it("answers the list kept for a conversation with the version it was read at", () => {
    const lists = new MemberLists();
    lists.set("c1", 0n, ["a", "b"]);
    assert.deepEqual(lists.peek("c1"), { version: 0n, members: ["a", "b"] });
    assert.equal(lists.peek("c2"), undefined);
    lists.set("c1", 1n, ["a", "b", "c"]);
    assert.deepEqual(lists.peek("c1"), { version: 1n, members: ["a", "b", "c"] });
  });

  it("keeps at most its budget of ids, dropping the least recently used list", () => {
    const lists = new MemberLists(10);
    lists.set("c1", 0n, ["a", "b", "c", "d"]);
    lists.set("c2", 0n, ["a", "b", "c", "d"]);
    assert.ok(lists.peek("c1")); // c1 is now the most recently used
    lists.set("c3", 0n, ["a", "b", "c"]);
    assert.ok(lists.peek("c1"));
    assert.equal(lists.peek("c2"), undefined);
    assert.ok(lists.peek("c3"));
    // Larger than the whole budget: not kept, and nothing else is dropped for it.
    lists.set("big", 0n, Array.from({ length: 20 }, (_, i) => `u${i}`));
    assert.equal(lists.peek("big"), undefined);
    assert.ok(lists.peek("c1"));
  });
});
