// Canary routing through real HTTP and the real invoker: two catalog
// instances with different versions in a registry, as in the distributed runtime.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { createInvoker, MemoryRegistry, type Transport } from "@flotilla/kit/internal";
import { send, startGateway } from "../../test/support/traffic-gateway.ts";
import { type CanarySettings, canary, pickVersion } from "./canary.ts";

describe("canary routing", async () => {
  const registry = new MemoryRegistry();
  const reached: string[] = [];
  // Each instance answers with its own version as the event title.
  const transport: Transport = {
    schemes: ["test:"],
    async unary(target) {
      reached.push(target.version);
      return create(catalogV1.GetEventResponseSchema, { event: { eventId: "evt_1", title: target.version } }) as never;
    },
    async close() {},
  };
  for (const version of ["1.0.0", "2.0.0"]) {
    await registry.register({ id: `catalog-${version.replaceAll(".", "_")}`, service: "catalog", version, address: `test://${version}`, labels: {}, startedAt: Date.now() });
  }
  const invoker = createInvoker({ registry, transports: transport });
  let settings: CanarySettings = { services: { catalog: { "1.0.0": 80, "2.0.0": 20 } }, header: true };
  const { app, base } = await startGateway(invoker.invoke, [canary({ settings: () => settings })]);
  after(async () => {
    await app.close();
    invoker.close();
    await registry.close();
  });
  const versionFor = async (user: string, headers: Record<string, string> = {}) => {
    const res = await send(base, "/v1/catalog/events/evt_1", { headers: { "x-test-user": user, ...headers } });
    assert.equal(res.status, 200);
    return (res.json as { event: { title: string } }).event.title;
  };

  test("each user stays on one version; about the configured share of users reaches the canary", async () => {
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const first = new Map<string, string>();
    for (const user of users) first.set(user, await versionFor(user));
    for (const user of users.slice(0, 40)) assert.equal(await versionFor(user), first.get(user), user);
    const onCanary = [...first.values()].filter((v) => v === "2.0.0").length;
    // 20 % of 200, with the spread of a fair hash.
    assert.ok(onCanary > 20 && onCanary < 60, `${onCanary} of 200 on the canary`);
    // The same choice as the pure function, which every replica computes alike.
    assert.equal(first.get("user-7"), pickVersion(settings.services.catalog ?? {}, "catalog\nu:user-7"));
  });

  test("testers pick a version with X-Flotilla-Version; an unlisted one is ignored", async () => {
    const user = "tester";
    const own = await versionFor(user);
    const other = own === "1.0.0" ? "2.0.0" : "1.0.0";
    assert.equal(await versionFor(user, { "x-flotilla-version": other }), other);
    assert.equal(await versionFor(user, { "x-flotilla-version": "9.9.9" }), own);
  });

  test("weights change at runtime: blue/green switch moves everyone", async () => {
    settings = { services: { catalog: { "1.0.0": 0, "2.0.0": 100 } }, header: true };
    for (let i = 0; i < 20; i++) assert.equal(await versionFor(`switch-${i}`), "2.0.0");
    settings = { services: { catalog: { "1.0.0": 100, "2.0.0": 0 } }, header: true };
    for (let i = 0; i < 20; i++) assert.equal(await versionFor(`switch-${i}`), "1.0.0");
    // A version with no live instance falls back to the others rather than failing.
    settings = { services: { catalog: { "3.0.0": 100 } }, header: true };
    reached.length = 0;
    for (let i = 0; i < 10; i++) await versionFor(`gone-${i}`);
    assert.ok(reached.every((v) => v === "1.0.0" || v === "2.0.0"));
  });
});
