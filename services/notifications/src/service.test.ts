// How the service starts: dev VAPID keys in `flotilla dev`, providers from config.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { notificationsV1 } from "@flotilla/contracts";
import { createLogger } from "@flotilla/kit";
import { hostService, MemoryBus, PgliteProvider } from "@flotilla/kit/internal";
import { testKeyProvider } from "@flotilla/kit/testing";
import { loadNotificationsConfig } from "./config.ts";
import { createNotificationsService } from "./service.ts";

const log = createLogger("test", "silent");

async function webPushKey(provider: PgliteProvider, mode: "embedded" | "distributed", env: NodeJS.ProcessEnv = {}): Promise<string> {
  const bus = new MemoryBus();
  const hosted = await hostService(createNotificationsService({ config: loadNotificationsConfig(env), keys: testKeyProvider() }), { provider, bus, log, mode });
  try {
    const method = notificationsV1.NotificationsService.method.getWebPushKey;
    const route = hosted.router.lookup(`/flotilla.notifications.v1.NotificationsService/${method.name}`)!;
    const out = (await route.invoke(create(method.input, {}), { service: notificationsV1.NotificationsService, method: method as never, deadline: undefined, metadata: {}, signal: new AbortController().signal })) as notificationsV1.GetWebPushKeyResponse;
    return out.publicKey;
  } finally {
    await hosted.stop();
    await bus.close();
  }
}

test("in flotilla dev a VAPID key pair is made once and kept; the distributed runtime makes none", async () => {
  const provider = new PgliteProvider();
  try {
    const first = await webPushKey(provider, "embedded");
    assert.equal(Buffer.from(first, "base64url").length, 65);
    assert.equal(await webPushKey(provider, "embedded"), first, "the same key after a restart");
    assert.equal(await webPushKey(provider, "distributed"), "", "no key pair is invented outside flotilla dev");
  } finally {
    await provider.close();
  }
});

test("half-given provider settings stop the start with an error naming the variables, never the secret", async () => {
  const provider = new PgliteProvider();
  try {
    const secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----";
    await assert.rejects(webPushKey(provider, "distributed", { FLOTILLA_APNS_KEY: secret, FLOTILLA_APNS_KEY_ID: "ABC123DEFG" }), (error: Error & { code: string }) => {
      assert.equal(error.code, "NOTIFICATIONS_ERR_PROVIDER_CONFIG");
      assert.match(error.message, /FLOTILLA_APNS_TEAM_ID/);
      assert.doesNotMatch(error.message, /TOPSECRET/);
      return true;
    });
    await assert.rejects(webPushKey(provider, "distributed", { FLOTILLA_VAPID_PUBLIC_KEY: "B".repeat(87) }), { code: "NOTIFICATIONS_ERR_PROVIDER_CONFIG" });
    assert.throws(() => loadNotificationsConfig({ FLOTILLA_APNS_KEY_ID: "lower" }), /FLOTILLA_APNS_KEY_ID/);
  } finally {
    await provider.close();
  }
});
