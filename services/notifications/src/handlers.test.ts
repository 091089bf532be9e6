// The contract's handlers through the router (protovalidate + handlers), as
// the gateway calls them: the caller from the bearer token, only their rows.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { notificationsV1 } from "@flotilla/contracts";
import { PgliteProvider } from "@flotilla/kit/internal";
import { type Harness, startHarness } from "../test/harness.ts";
import { callerId } from "./caller.ts";

let h: Harness;
let provider: PgliteProvider;

before(async () => {
  provider = new PgliteProvider();
  h = await startHarness(provider);
});

after(async () => {
  await h.stop();
  await provider.close();
});

const ctxBase = { service: notificationsV1.NotificationsService, method: notificationsV1.NotificationsService.method.listDevices, deadline: undefined, signal: new AbortController().signal };
const apns = { token: { case: "apnsToken", value: "AB".repeat(32) }, platform: notificationsV1.Platform.IOS, appVersion: "1.2.3", locale: "en-GB" };

test("a call without a bearer token, or with a token without a subject, is unauthenticated", async () => {
  await assert.rejects(h.call("listDevices", {}, ""), { code: "NOTIFICATIONS_ERR_UNAUTHENTICATED", rpc: "unauthenticated" });
  assert.throws(() => callerId({ ...ctxBase, metadata: { authorization: "Bearer e30.e30.x" } }), { code: "NOTIFICATIONS_ERR_UNAUTHENTICATED" });
  assert.throws(() => callerId({ ...ctxBase, metadata: { authorization: "Bearer not-a-jwt" } }), { code: "NOTIFICATIONS_ERR_UNAUTHENTICATED" });
  assert.throws(() => callerId({ ...ctxBase, metadata: { authorization: "Bearer e30.!!!.x" } }), { code: "NOTIFICATIONS_ERR_UNAUTHENTICATED" });
  assert.equal(callerId({ ...ctxBase, metadata: { authorization: `Bearer e30.${Buffer.from('{"sub":"u-1"}').toString("base64url")}.x` } }), "u-1");
});

test("registering the same token twice keeps one device; it moves to whoever registers it last", async () => {
  const first = (await h.call("registerDevice", apns, "u-kim")) as notificationsV1.RegisterDeviceResponse;
  const again = (await h.call("registerDevice", { ...apns, appVersion: "1.3.0" }, "u-kim")) as notificationsV1.RegisterDeviceResponse;
  assert.equal(again.device?.deviceId, first.device?.deviceId);
  assert.equal(again.device?.appVersion, "1.3.0");
  assert.equal(again.device?.provider, "apns");
  const kim = (await h.call("listDevices", {}, "u-kim")) as notificationsV1.ListDevicesResponse;
  assert.deepEqual(kim.devices.map((d) => [d.deviceId, d.platform, d.locale, d.active]), [[first.device?.deviceId, notificationsV1.Platform.IOS, "en-GB", true]]);

  await h.call("registerDevice", apns, "u-lou");
  assert.equal(((await h.call("listDevices", {}, "u-kim")) as notificationsV1.ListDevicesResponse).devices.length, 0);
  assert.equal(((await h.call("listDevices", {}, "u-lou")) as notificationsV1.ListDevicesResponse).devices.length, 1);
});

test("a device is deleted only by its owner", async () => {
  const { device } = (await h.call("registerDevice", { token: { case: "fcmToken", value: "fcm-max-0123456789abcdef" }, platform: notificationsV1.Platform.ANDROID }, "u-max")) as notificationsV1.RegisterDeviceResponse;
  await assert.rejects(h.call("deleteDevice", { deviceId: device!.deviceId }, "u-nia"), { code: "NOTIFICATIONS_ERR_DEVICE_NOT_FOUND", rpc: "not_found" });
  await h.call("deleteDevice", { deviceId: device!.deviceId }, "u-max");
  assert.equal(((await h.call("listDevices", {}, "u-max")) as notificationsV1.ListDevicesResponse).devices.length, 0);
  await assert.rejects(h.call("deleteDevice", { deviceId: device!.deviceId }, "u-max"), { code: "NOTIFICATIONS_ERR_DEVICE_NOT_FOUND" });
});

test("bad device registrations are refused with the field named", async () => {
  const invalid = async (input: object, field: string, code = "KIT_ERR_INVALID_ARGUMENT") => {
    await assert.rejects(h.call("registerDevice", input, "u-oli"), (error: { code: string; rpc: string; violations: { field: string }[] }) => {
      assert.equal(error.code, code);
      assert.equal(error.rpc, "invalid_argument");
      assert.ok(error.violations.some((v) => v.field.includes(field)), JSON.stringify(error.violations));
      return true;
    });
  };
  await invalid({ platform: 1 }, "token");
  await invalid({ token: { case: "apnsToken", value: "not hex" }, platform: 1 }, "apns_token");
  await invalid({ ...apns, platform: 0 }, "platform");
  await invalid({ ...apns, locale: "en GB" }, "locale");
  const keys = h.browser().keys;
  await invalid({ token: { case: "webPush", value: { endpoint: "http://push.example/x", ...keys } }, platform: 3 }, "endpoint");
  await invalid({ token: { case: "webPush", value: { endpoint: "https://push.example/x", ...keys, auth: "short" } }, platform: 3 }, "auth");
  // Right length and alphabet, but not an uncompressed P-256 point.
  await invalid({ token: { case: "webPush", value: { endpoint: `${h.webOrigin}/push/x`, ...keys, p256dh: Buffer.alloc(65, 7).toString("base64url") } }, platform: 3 }, "p256dh", "NOTIFICATIONS_ERR_BAD_SUBSCRIPTION");
  // Not a push service the deployment allows: the service would POST there (SSRF).
  await invalid({ token: { case: "webPush", value: { endpoint: "https://169.254.169.254/latest/meta-data", ...keys } }, platform: 3 }, "endpoint", "NOTIFICATIONS_ERR_BAD_SUBSCRIPTION");
  assert.equal(((await h.call("listDevices", {}, "u-oli")) as notificationsV1.ListDevicesResponse).devices.length, 0);
});

test("preferences: defaults, replace, time zones checked", async () => {
  const empty = (await h.call("getPreferences", {}, "u-pia")) as notificationsV1.GetPreferencesResponse;
  assert.deepEqual(empty.preferences?.mutedConversationIds, []);
  assert.equal(empty.preferences?.quietHours, undefined);
  const quietHours = { start: "22:00", end: "07:00", timeZone: "America/Sao_Paulo" };
  await h.call("updatePreferences", { preferences: { mutedConversationIds: ["c-2", "c-1"], quietHours } }, "u-pia");
  const set = (await h.call("getPreferences", {}, "u-pia")) as notificationsV1.GetPreferencesResponse;
  assert.deepEqual(set.preferences?.mutedConversationIds, ["c-1", "c-2"]);
  assert.deepEqual({ ...set.preferences?.quietHours }, { $typeName: "flotilla.notifications.v1.QuietHours", ...quietHours });
  await assert.rejects(h.call("updatePreferences", { preferences: { quietHours: { ...quietHours, timeZone: "Mars/Olympus" } } }, "u-pia"), { code: "NOTIFICATIONS_ERR_BAD_TIME_ZONE" });
  await assert.rejects(h.call("updatePreferences", { preferences: { quietHours: { ...quietHours, start: "24:00" } } }, "u-pia"), { code: "KIT_ERR_INVALID_ARGUMENT" });
  await assert.rejects(h.call("updatePreferences", { preferences: { mutedConversationIds: ["a", "a"] } }, "u-pia"), { code: "KIT_ERR_INVALID_ARGUMENT" });
  await assert.rejects(h.call("updatePreferences", {}, "u-pia"), { code: "KIT_ERR_INVALID_ARGUMENT" });
  assert.deepEqual(((await h.call("getPreferences", {}, "u-pia")) as notificationsV1.GetPreferencesResponse).preferences?.mutedConversationIds, ["c-1", "c-2"], "a refused update changes nothing");
  await h.call("updatePreferences", { preferences: {} }, "u-pia");
  const cleared = (await h.call("getPreferences", {}, "u-pia")) as notificationsV1.GetPreferencesResponse;
  assert.deepEqual([cleared.preferences?.mutedConversationIds, cleared.preferences?.quietHours], [[], undefined]);
});

test("the VAPID public key is published for web apps; unknown notifications are not found", async () => {
  const { publicKey } = (await h.call("getWebPushKey", {}, "")) as notificationsV1.GetWebPushKeyResponse;
  assert.equal(Buffer.from(publicKey, "base64url").length, 65);
  await assert.rejects(h.call("listDeliveries", { notificationId: "ntf_nope" }, "u-pia"), { code: "NOTIFICATIONS_ERR_NOTIFICATION_NOT_FOUND" });
  assert.deepEqual(((await h.call("listNotifications", {}, "u-pia")) as notificationsV1.ListNotificationsResponse).notifications, []);
});
