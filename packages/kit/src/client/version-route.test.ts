import assert from "node:assert/strict";
import { test } from "node:test";
import type { Instance } from "../registry/types.ts";
import { ROUTE_VERSION_KEY, routeByVersion } from "./version-route.ts";

const instance = (id: string, version: string): Instance => ({ id, service: "catalog", version, address: `inproc://${id}`, labels: {}, startedAt: 0 });
const all = [instance("a", "1.0.0"), instance("b", "2.0.0"), instance("c", "2.0.0")];

test("routes to the instances of the requested version", () => {
  assert.deepEqual(
    routeByVersion(all, { [ROUTE_VERSION_KEY]: "2.0.0" }).map((i) => i.id),
    ["b", "c"],
  );
  assert.deepEqual(
    routeByVersion(all, { [ROUTE_VERSION_KEY]: "1.0.0" }).map((i) => i.id),
    ["a"],
  );
});

test("no version asked, or none alive: every instance", () => {
  assert.equal(routeByVersion(all, {}), all);
  assert.equal(routeByVersion(all, { [ROUTE_VERSION_KEY]: "3.0.0" }), all);
});
