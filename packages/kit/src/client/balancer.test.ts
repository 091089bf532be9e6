import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kitErrors } from "../errors/index.ts";
import { instance } from "../transport/test-fixtures.ts";
import { unreachable } from "../transport/transport-failure.ts";
import { Balancer } from "./balancer.ts";

const a = instance("a", "inproc://a");
const b = instance("b", "inproc://b");
const c = instance("c", "inproc://c");

function balancer(random = Math.random) {
  return new Balancer({ random, ejectMs: 1_000, ejectMaxMs: 30_000 });
}

describe("Balancer (power of two choices)", () => {
  it("returns nothing for no instance and the only one for one", () => {
    const lb = balancer();
    assert.equal(lb.pick([]), undefined);
    assert.equal(lb.pick([a]), a);
  });

  it("spreads picks across equally loaded instances", () => {
    const lb = balancer();
    const counts = new Map<string, number>();
    for (let i = 0; i < 3_000; i++) {
      const x = lb.pick([a, b, c])!;
      counts.set(x.id, (counts.get(x.id) ?? 0) + 1);
    }
    for (const id of ["a", "b", "c"]) assert.ok((counts.get(id) ?? 0) > 600, `${id} got ${counts.get(id)}`);
  });

  it("prefers the instance with fewer calls in flight, then the faster one", () => {
    const lb = balancer();
    lb.load(a).inFlight = 5;
    for (let i = 0; i < 50; i++) assert.equal(lb.pick([a, b]), b);
    lb.load(a).inFlight = 0;
    lb.succeeded(lb.load(a), 40);
    lb.succeeded(lb.load(b), 5);
    for (let i = 0; i < 50; i++) assert.equal(lb.pick([a, b]), b);
  });

  it("never picks the most loaded of three (it always loses its pair)", () => {
    const lb = balancer();
    lb.load(c).inFlight = 10;
    let picksOfC = 0;
    for (let i = 0; i < 1_000; i++) if (lb.pick([a, b, c]) === c) picksOfC++;
    assert.equal(picksOfC, 0);
  });

  it("avoids instances already tried by this call", () => {
    const lb = balancer();
    for (let i = 0; i < 50; i++) assert.equal(lb.pick([a, b], [a]), b);
    assert.equal(lb.pick([a], [a]), a, "the only instance is still worth a try");
  });

  it("ejects an instance whose transport failed, not one that answered an error", () => {
    const lb = balancer();
    lb.failed(lb.load(a), kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "bad"));
    assert.equal(lb.load(a).ejectedUntil, 0);
    lb.failed(lb.load(a), unreachable("refused", { maybeDelivered: false }));
    assert.ok(lb.load(a).ejectedUntil > Date.now());
    for (let i = 0; i < 50; i++) assert.notEqual(lb.pick([a, b, c]), a);
    lb.load(b).ejectedUntil = Date.now() + 1_000;
    lb.load(c).ejectedUntil = Date.now() + 1_000;
    assert.ok(lb.pick([a, b, c]), "with every instance ejected, one is still tried");
    lb.succeeded(lb.load(a), 1);
    assert.equal(lb.load(a).failures, 0);
  });
});
