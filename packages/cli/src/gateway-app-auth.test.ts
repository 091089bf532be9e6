// The gateway as the runtimes build it authenticates with identity's JWKS,
// fetched through the invoker (in-process or over the network alike).
import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { catalogV1, identityV1 } from "@flotilla/contracts";
import type { Invoke } from "@flotilla/gateway";
import { createLogger, kitErrors } from "@flotilla/kit";
import { createTelemetry } from "@flotilla/kit/internal";
import { createTestIssuer } from "@flotilla/kit/testing";
import { buildGatewayApp } from "./gateway-app.ts";

const newEvent = { title: "T", category: "EVENT_CATEGORY_CONCERT", venue: "V", city: "Porto", startsAt: "2030-06-01T20:00:00Z", capacity: 1, priceMinor: "1", currency: "EUR" };

test("both runtimes' gateway: JWKS through the invoker, protected routes need a token, public ones do not", async () => {
  const issuer = await createTestIssuer();
  const calls: string[] = [];
  const invoke: Invoke = async (_service, method, input, options) => {
    calls.push(method.name);
    if (method.name === "GetJwks") {
      const { keys } = await issuer.jwks();
      return create(identityV1.GetJwksResponseSchema, { keys: keys.map((k) => ({ kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid: k.kid, use: k.use, alg: k.alg })) });
    }
    if (method.name === "ListEvents") return create(catalogV1.ListEventsResponseSchema, {});
    if (method.name === "CreateEvent") {
      assert.match(options.metadata.authorization ?? "", /^Bearer /);
      return create(catalogV1.CreateEventResponseSchema, { event: { ...(input as catalogV1.CreateEventRequest), eventId: "evt_1", $typeName: "flotilla.catalog.v1.Event" } }) as MessageShape<DescMessage>;
    }
    throw kitErrors.create("KIT_ERR_UNIMPLEMENTED", method.name);
  };
  const telemetry = createTelemetry({ serviceName: "gateway-test" });
  const app = buildGatewayApp({ invoke, log: createLogger("gateway-test", "silent"), telemetry, ready: () => true, identityHosted: true });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    assert.equal((await fetch(`${base}/v1/catalog/events`)).status, 200);
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/v1/catalog/events`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(newEvent) });
    const anonymous = await post({});
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="flotilla"');
    const token = await issuer.sign({ permissions: ["catalog:write"] });
    const created = await post({ authorization: `Bearer ${token}` });
    assert.equal(created.status, 200, await created.text());
    assert.deepEqual(calls, ["ListEvents", "GetJwks", "CreateEvent"]);
    // Security headers and the request id on every API answer.
    assert.equal(created.headers.get("x-content-type-options"), "nosniff");
  } finally {
    await app.close();
    await telemetry.shutdown();
  }
});

test("no issuer to trust (identity not hosted, no jwksUrl): routes are not authenticated, as before", async () => {
  const invoke: Invoke = async (_service, method) => {
    if (method.name === "CreateEvent") return create(catalogV1.CreateEventResponseSchema, {});
    throw kitErrors.create("KIT_ERR_UNIMPLEMENTED", method.name);
  };
  const telemetry = createTelemetry({ serviceName: "gateway-test" });
  const app = buildGatewayApp({ invoke, log: createLogger("gateway-test", "silent"), telemetry, ready: () => true, identityHosted: false });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    const res = await fetch(`${base}/v1/catalog/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(newEvent) });
    assert.equal(res.status, 200);
  } finally {
    await app.close();
    await telemetry.shutdown();
  }
});
