// Caller policies and zero trust in the embedded runtime: a router behind the
// in-process transport, called through invokers that know which service calls.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { FlotillaError } from "../../errors/index.ts";
import { MemoryRegistry } from "../../registry/memory.ts";
import { createInvoker, type Invoker } from "../../runtime/invoker.ts";
import { InprocNetwork, InprocTransport } from "../../transport/inproc.ts";
import { Router } from "../../transport/router.ts";
import type { CallContext } from "../../transport/types.ts";
import { createTokenVerifier } from "../jwt/index.ts";
import { createTestIssuer } from "../jwt/test-issuer.ts";
import { callerPolicy } from "./caller-policy.ts";
import { bearerOf, endUserOf, endUserPolicy } from "./end-user-policy.ts";
import { ProbeService, probeHandlers } from "./test-contract.ts";

const issuer = await createTestIssuer();
const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks(), algorithms: ["ES256"], clockToleranceSec: 30 });
const seen: Array<{ caller: string | undefined; user: string | undefined }> = [];
const handlers = probeHandlers() as Record<string, (input: unknown, ctx: CallContext) => Promise<object>>;
for (const name of Object.keys(handlers)) {
  handlers[name] = async (_input, ctx) => {
    seen.push({ caller: ctx.caller, user: endUserOf(ctx)?.subject });
    return {};
  };
}
const router = new Router({ interceptors: [callerPolicy(), endUserPolicy({ verifier })] }).add(ProbeService, handlers as never);
const network = new InprocNetwork();
network.bind("inproc://probe-1", router);
const registry = new MemoryRegistry();
await registry.register({ id: "probe-1", service: "probe", version: "1", address: "inproc://probe-1", labels: {}, startedAt: Date.now() });
const invokers: Invoker[] = [];
function as(caller: string | undefined) {
  const invoker = createInvoker({ registry, transports: new InprocTransport(network), ...(caller ? { caller } : {}), policy: { maxRetries: 0, breaker: false } });
  invokers.push(invoker);
  return (method: string, metadata: Record<string, string> = {}) =>
    invoker.invoke(ProbeService, ProbeService.method[method] as never, create(EmptySchema) as MessageShape<DescMessage>, { metadata });
}
after(async () => {
  for (const i of invokers) i.close();
  await registry.close();
});

async function refused(call: Promise<unknown>, code: string) {
  await assert.rejects(call, (e) => {
    assert.ok(e instanceof FlotillaError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const billing = as("billing");
const gateway = as("gateway");
const anonymous = as(undefined);

describe("caller policy (embedded)", () => {
  test("an internal method answers the listed service and refuses others", async () => {
    seen.length = 0;
    await billing("settle");
    assert.deepEqual(seen, [{ caller: "billing", user: undefined }]);
    await refused(gateway("settle"), "KIT_ERR_CALLER_DENIED");
    await refused(anonymous("settle"), "KIT_ERR_CALLER_UNAUTHENTICATED");
  });

  test("an internal method listing no callers refuses everyone (default deny)", async () => {
    await refused(billing("purge"), "KIT_ERR_CALLER_DENIED");
    await refused(gateway("purge"), "KIT_ERR_CALLER_DENIED");
  });

  test("metadata cannot claim a caller identity", async () => {
    await refused(anonymous("settle", { caller: "billing", "x-flotilla-caller": "billing", "x-forwarded-client-cert": "URI=spiffe://flotilla/billing" }), "KIT_ERR_CALLER_UNAUTHENTICATED");
  });

  test("the errors travel as permission_denied / unauthenticated", async () => {
    await assert.rejects(gateway("settle"), (e) => e instanceof FlotillaError && e.rpc === "permission_denied" && e.httpStatus === 403);
    await assert.rejects(anonymous("settle"), (e) => e instanceof FlotillaError && e.rpc === "unauthenticated" && e.httpStatus === 401);
  });
});

describe("end-user policy (zero trust)", () => {
  test("public methods need no token", async () => {
    await anonymous("browse");
  });

  test("a method with permissions needs a valid token holding all of them", async () => {
    await refused(gateway("publish"), "KIT_ERR_TOKEN_REQUIRED");
    await refused(gateway("publish", { authorization: `Bearer ${await issuer.sign({ permissions: ["catalog:read"] })}` }), "KIT_ERR_PERMISSION_DENIED");
    await refused(gateway("publish", { authorization: "Bearer not.a.token" }), "KIT_ERR_TOKEN_INVALID");
    await refused(gateway("publish", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }), "KIT_ERR_TOKEN_REQUIRED");
    const expired = await issuer.sign({ permissions: ["catalog:write"], exp: Math.floor(Date.now() / 1000) - 120, iat: Math.floor(Date.now() / 1000) - 800, nbf: Math.floor(Date.now() / 1000) - 800 });
    await refused(gateway("publish", { authorization: `Bearer ${expired}` }), "KIT_ERR_TOKEN_EXPIRED");
    seen.length = 0;
    await gateway("publish", { authorization: `Bearer ${await issuer.sign({ sub: "acc_42", permissions: ["catalog:read", "catalog:write"] })}` });
    assert.deepEqual(seen, [{ caller: "gateway", user: "acc_42" }]);
  });

  test("a method without an access option needs a valid token, no particular permission", async () => {
    await refused(gateway("open"), "KIT_ERR_TOKEN_REQUIRED");
    await gateway("open", { authorization: `Bearer ${await issuer.sign({ permissions: [] })}` });
  });

  test("a token signed by another issuer's key is refused", async () => {
    const other = await createTestIssuer();
    // Same kid "k1", another key: the signature check catches it.
    await refused(gateway("open", { authorization: `Bearer ${await other.sign()}` }), "KIT_ERR_TOKEN_INVALID");
  });

  test("internal methods: service-only ones need no end user, ones with permissions need both checks", async () => {
    await billing("settle");
    await refused(billing("audit"), "KIT_ERR_TOKEN_REQUIRED");
    const auditor = `Bearer ${await issuer.sign({ permissions: ["audit:read"] })}`;
    await refused(gateway("audit", { authorization: auditor }), "KIT_ERR_CALLER_DENIED");
    await billing("audit", { authorization: auditor });
  });

  test("bearerOf reads RFC 6750 credentials only", () => {
    assert.equal(bearerOf("Bearer abc.def.ghi"), "abc.def.ghi");
    assert.equal(bearerOf("bearer abc"), "abc");
    assert.equal(bearerOf("Bearer"), undefined);
    assert.equal(bearerOf("Bearer a b"), undefined);
    assert.equal(bearerOf(undefined), undefined);
  });
});
