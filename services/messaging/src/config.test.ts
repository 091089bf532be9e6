import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "@flotilla/kit";
import { jwksOf, loadMessagingConfig } from "./config.ts";

test("the key set: pinned JSON, else an external URL, else identity through the invoker, else the public URL", async () => {
  const pinned = { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y", kid: "k" }] };
  const fromJson = jwksOf(loadMessagingConfig({ FLOTILLA_AUTH_JWKS: JSON.stringify(pinned) }), undefined);
  assert.deepEqual(await (fromJson as () => Promise<unknown>)(), pinned);
  assert.equal(jwksOf(loadMessagingConfig({ FLOTILLA_AUTH_JWKS_URL: "https://idp.example/jwks" }), undefined), "https://idp.example/jwks");
  const calls: string[] = [];
  const viaIdentity = jwksOf(loadMessagingConfig({}), async (service, method) => {
    calls.push(`${service.typeName}/${method.name}`);
    return { $typeName: "flotilla.identity.v1.GetJwksResponse", keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b", kid: "k1", use: "sig", alg: "ES256" }] } as never;
  });
  assert.deepEqual(await (viaIdentity as () => Promise<{ keys: unknown[] }>)(), { keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b", kid: "k1", use: "sig", alg: "ES256" }] });
  assert.deepEqual(calls, ["flotilla.identity.v1.IdentityService/GetJwks"]);
  assert.equal(jwksOf(loadMessagingConfig({ FLOTILLA_PUBLIC_URL: "https://api.example" }), undefined), "https://api.example/.well-known/jwks.json");
});

test("malformed settings stop the start, naming the variable", () => {
  for (const [name, value] of [
    ["FLOTILLA_AUTH_JWKS", "{not json"],
    ["FLOTILLA_AUTH_JWKS", '{"keys": 3}'],
    ["FLOTILLA_REALTIME_PING_MS", "5"],
    ["FLOTILLA_PUBLIC_URL", "http://x/"],
  ]) {
    assert.throws(() => loadMessagingConfig({ [name!]: value }), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CONFIG_INVALID" && e.message.includes(name!));
  }
});
