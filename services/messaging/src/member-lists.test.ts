import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemberLists } from "./member-lists.ts";

describe("MemberLists", () => {
  it("answers a list only for the version it was read at", () => {
    const lists = new MemberLists();
    lists.set("c1", 0n, ["a", "b"]);
    assert.deepEqual(lists.get("c1", 0n), ["a", "b"]);
    assert.equal(lists.get("c1", 1n), undefined);
    assert.equal(lists.get("c2", 0n), undefined);
    lists.set("c1", 1n, ["a", "b", "c"]);
    assert.deepEqual(lists.get("c1", 1n), ["a", "b", "c"]);
    assert.equal(lists.get("c1", 0n), undefined);
  });

  it("keeps at most its budget of ids, dropping the least recently used list", () => {
    const lists = new MemberLists(10);
    lists.set("c1", 0n, ["a", "b", "c", "d"]);
    lists.set("c2", 0n, ["a", "b", "c", "d"]);
    assert.ok(lists.get("c1", 0n)); // c1 is now the most recently used
    lists.set("c3", 0n, ["a", "b", "c"]);
    assert.ok(lists.get("c1", 0n));
    assert.equal(lists.get("c2", 0n), undefined);
    assert.ok(lists.get("c3", 0n));
    // Larger than the whole budget: not kept, and nothing else is dropped for it.
    lists.set("big", 0n, Array.from({ length: 20 }, (_, i) => `u${i}`));
    assert.equal(lists.get("big", 0n), undefined);
    assert.ok(lists.get("c1", 0n));
  });
});
