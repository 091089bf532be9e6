// With zero trust on, the caller is the subject the runtime's end-user
// interceptor verified, and a forged token gets nowhere.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { notificationsV1 } from "@flotilla/contracts";
import { createLogger, createTokenVerifier } from "@flotilla/kit";
import { endUserPolicy, type HostedService, hostService, MemoryBus, PgliteProvider } from "@flotilla/kit/internal";
import { createTestIssuer, type TestIssuer, testKeyProvider } from "@flotilla/kit/testing";
import { loadNotificationsConfig } from "./config.ts";
import { createNotificationsService } from "./service.ts";

let provider: PgliteProvider;
let bus: MemoryBus;
let hosted: HostedService;
let issuer: TestIssuer;

before(async () => {
  issuer = await createTestIssuer();
  const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks(), algorithms: ["ES256"], clockToleranceSec: 30 });
  provider = new PgliteProvider();
  bus = new MemoryBus();
  hosted = await hostService(createNotificationsService({ config: loadNotificationsConfig({}), providers: {}, keys: testKeyProvider() }), {
    provider,
    bus,
    log: createLogger("test", "silent"),
    mode: "distributed",
    interceptors: [endUserPolicy({ verifier })],
  });
});

after(async () => {
  await hosted.stop();
  await bus.close();
  await provider.close();
});

function call<M extends keyof typeof notificationsV1.NotificationsService.method>(name: M, input: object, authorization: string) {
  const method = notificationsV1.NotificationsService.method[name];
  const route = hosted.router.lookup(`/flotilla.notifications.v1.NotificationsService/${method.name}`)!;
  return route.invoke(create(method.input, input as never), { service: notificationsV1.NotificationsService, method: method as never, deadline: undefined, metadata: { authorization }, signal: new AbortController().signal });
}

test("the verified subject owns the device; an unsigned token claiming another subject is refused", async () => {
  const token = await issuer.sign({ sub: "acc_zt" });
  await call("registerDevice", { token: { case: "fcmToken", value: "fcm-zt-0123456789abcdef" }, platform: 2 }, `Bearer ${token}`);
  const mine = (await call("listDevices", {}, `Bearer ${token}`)) as notificationsV1.ListDevicesResponse;
  assert.equal(mine.devices.length, 1);
  const [h, , s] = token.split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "acc_evil", iss: issuer.issuer, aud: "flotilla", exp: 9999999999 })).toString("base64url")}.${s}`;
  await assert.rejects(call("listDevices", {}, `Bearer ${forged}`), (error: { code: string; rpc: string }) => error.code.startsWith("KIT_ERR_TOKEN") && error.rpc === "unauthenticated");
});
