// Device tokens and Web Push keys at rest: sealed on registration, rows from
// before sealing sealed at start (and pushed meanwhile), re-sealed after a
// master-key rotation, and the token still unique through its blind index.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { notificationsV1 } from "@flotilla/contracts";
import { localKeyProvider } from "@flotilla/kit";
import { PgliteProvider } from "@flotilla/kit/internal";
import { eventually, GRACE_MS, type Harness, startHarness } from "./harness.ts";

const k1 = randomBytes(32);
const provider = new PgliteProvider();
let h: Harness;

before(async () => {
  h = await startHarness(provider, undefined, localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }));
});

after(async () => {
  await h.stop();
  await provider.close();
});

const apnsToken = (n: number) => n.toString(16).padStart(64, "0");
const stored = (deviceId: string) =>
  h.hosted.db.query<{ user_id: string; token: string; p256dh: string; auth: string; token_index: string | null }>("SELECT user_id, token, p256dh, auth, token_index FROM devices WHERE device_id = $1", [deviceId]);
const register = async (user: string, input: object) => ((await h.call("registerDevice", input, user)) as notificationsV1.RegisterDeviceResponse).device!;
const pushedTo = (token: string) => h.apns.pushes.filter((p) => p.token === token).map((p) => p.payload.message_id);

async function pushOnce(user: string, messageId: string): Promise<void> {
  await h.sent({ conversationId: `c-${messageId}`, messageId, sender: "u-ana", recipients: [user] });
  await eventually(async () => (await h.hosted.db.query("SELECT 1 FROM notifications WHERE message_id = $1 AND state = 'pending'", [messageId]))[0], `${messageId} pending`);
  h.advance(GRACE_MS);
  await eventually(async () => (await h.hosted.db.query("SELECT 1 FROM notifications WHERE message_id = $1 AND state = 'sent'", [messageId]))[0], `${messageId} sent`);
}

test("a registered token and a subscription's keys are stored sealed, and pushed to as they were given", async () => {
  const token = apnsToken(0xa1);
  const apns = await register("u-mo", { token: { case: "apnsToken", value: token }, platform: 1 });
  const browser = h.browser();
  const web = await register("u-mo", { token: { case: "webPush", value: { endpoint: `${h.webOrigin}/push/mo`, ...browser.keys } }, platform: 3 });
  const [a] = await stored(apns.deviceId);
  const [w] = await stored(web.deviceId);
  assert.ok(a!.token.startsWith("fe1.k1."), "the APNs token is an envelope under k1");
  assert.ok(!a!.token.includes(token));
  assert.ok(a!.token_index && a!.token_index.length > 20);
  for (const value of [w!.token, w!.p256dh, w!.auth]) assert.ok(value.startsWith("fe1.k1."), "endpoint and keys sealed");
  assert.ok(![w!.token, w!.p256dh, w!.auth].some((v) => v.includes(browser.keys.p256dh) || v.includes(browser.keys.auth) || v.includes("/push/mo")));

  await pushOnce("u-mo", "s1");
  assert.deepEqual(pushedTo(token), ["s1"]);
  assert.equal(h.web.received.filter((r) => r.id === "mo").length, 1);
  // The same token again (another account on the phone): one row, moved to the new user.
  const again = await register("u-nia", { token: { case: "apnsToken", value: token.toUpperCase() }, platform: 1 });
  assert.equal(again.deviceId, apns.deviceId);
  assert.equal((await stored(apns.deviceId))[0]!.user_id, "u-nia");
});

test("rows stored in plain text before sealing are pushed to, sealed at the next start, and replaced by a new registration of their token", async () => {
  const [plain, duplicate] = [apnsToken(0xb2), apnsToken(0xb3)];
  await h.hosted.db.query("INSERT INTO devices (device_id, user_id, provider, token, platform) VALUES ('dev-plain', 'u-ole', 'apns', $1, 1), ('dev-dup', 'u-old', 'apns', $2, 1)", [plain, duplicate]);
  await pushOnce("u-ole", "s2");
  assert.deepEqual(pushedTo(plain), ["s2"], "a plain row is pushed to as it is");

  // Registered again before the sealer reached it: the plain row gives way.
  const fresh = await register("u-new", { token: { case: "apnsToken", value: duplicate }, platform: 1 });
  assert.deepEqual(await stored("dev-dup"), []);
  assert.equal((await h.hosted.db.query("SELECT 1 FROM devices WHERE provider = 'apns' AND token_index IS NOT NULL AND device_id = $1", [fresh.deviceId])).length, 1);

  await h.restart();
  const [sealed] = await eventually(async () => {
    const rows = await stored("dev-plain");
    return rows[0]?.token_index ? rows : undefined;
  }, "the plain row sealed at start");
  assert.ok(sealed!.token.startsWith("fe1.k1."));
  await pushOnce("u-ole", "s3");
  assert.deepEqual(pushedTo(plain), ["s2", "s3"]);
  // Sealed with the index a registration computes: registering it again finds the same row.
  const same = await register("u-ole", { token: { case: "apnsToken", value: plain }, platform: 1 });
  assert.equal(same.deviceId, "dev-plain");
});

test("after a master-key rotation every row is sealed again under the new key and still found and pushed", async () => {
  const token = apnsToken(0xc4);
  const device = await register("u-pia", { token: { case: "apnsToken", value: token }, platform: 1 });
  await h.restart(localKeyProvider({ keys: { k1, k2: randomBytes(32) }, currentKeyId: "k2", indexKeyId: "k1" }));
  await eventually(async () => {
    const rows = await h.hosted.db.query<{ token: string }>("SELECT token FROM devices");
    return rows.every((r) => r.token.startsWith("fe1.k2.")) ? rows : undefined;
  }, "every device under k2");
  await pushOnce("u-pia", "s4");
  assert.deepEqual(pushedTo(token), ["s4"]);
  const again = await register("u-pia", { token: { case: "apnsToken", value: token }, platform: 1 });
  assert.equal(again.deviceId, device.deviceId, "the blind index did not change with the rotation");
});
