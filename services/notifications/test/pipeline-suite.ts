// message_sent → notification → push, end to end in-process (kit runtime,
// MemoryBus, a database provider, the fake APNs/FCM/Web Push servers). Run by
// pipeline-pglite.test.ts and pipeline-postgres.test.ts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { notificationsV1 } from "@flotilla/contracts";
import type { DatabaseProvider } from "@flotilla/kit";
import { decryptWebPush } from "./fakes/fake-web-push.ts";
import { eventually, GRACE_MS, type Harness, startHarness } from "./harness.ts";

export function pipelineSuite(name: string, makeProvider: () => Promise<DatabaseProvider>, cleanup: () => Promise<void> = async () => {}): void {
  let h: Harness;
  let provider: DatabaseProvider;

  before(async () => {
    provider = await makeProvider();
    h = await startHarness(provider);
  });

  after(async () => {
    await h.stop();
    await provider.close();
    await cleanup();
  });

  const row = async (messageId: string, userId: string) => {
    const [r] = await h.hosted.db.query<{ notification_id: string; state: string; reason: string }>("SELECT notification_id, state, reason FROM notifications WHERE message_id = $1 AND user_id = $2", [messageId, userId]);
    return r;
  };
  const inState = (messageId: string, userId: string, ...states: string[]) =>
    eventually(async () => {
      const r = await row(messageId, userId);
      return r && states.includes(r.state) ? r : undefined;
    }, `${messageId} for ${userId} in ${states.join("/")}`);
  const register = async (user: string, input: object) => ((await h.call("registerDevice", input, user)) as notificationsV1.RegisterDeviceResponse).device!;
  const apnsToken = (n: number) => n.toString(16).padStart(64, "0");

  test(`[${name}] an offline recipient gets exactly one push on each of their devices, after the grace period; the sender none`, async () => {
    const bobApns = apnsToken(1);
    await register("u-bob", { token: { case: "apnsToken", value: bobApns }, platform: 1, appVersion: "2.1.0", locale: "pt-PT" });
    await register("u-bob", { token: { case: "fcmToken", value: "fcm-bob-0123456789abcdef" }, platform: 2 });
    const ua = h.browser();
    await register("u-bob", { token: { case: "webPush", value: { endpoint: `${h.webOrigin}/push/bob`, ...ua.keys } }, platform: 3 });
    await register("u-ana", { token: { case: "apnsToken", value: apnsToken(2) }, platform: 1 });


    await h.sent({ conversationId: "c1", messageId: "m1", sender: "u-ana", recipients: ["u-ana", "u-bob"], preview: "dinner at 8?" });
    const pending = await inState("m1", "u-bob", "pending");
    assert.equal(await row("m1", "u-ana"), undefined, "the sender is not notified");
    assert.equal(h.apns.pushes.length + h.fcm.messages.length + h.web.received.length, 0, "nothing before the grace period");

    h.advance(GRACE_MS);
    await inState("m1", "u-bob", "sent");
    const apns = h.apns.pushes.filter((p) => p.token === bobApns);
    assert.equal(apns.length, 1);
    assert.equal(apns[0]!.headers["apns-push-type"], "alert");
    assert.equal(apns[0]!.headers["apns-topic"], "com.example.chat");
    assert.equal(apns[0]!.headers["apns-collapse-id"], "m1");
    assert.deepEqual((apns[0]!.payload.aps as { alert: unknown }).alert, { title: "Ana", body: "dinner at 8?" });
    assert.equal(apns[0]!.payload.message_id, "m1");
    assert.equal(h.apns.pushes.filter((p) => p.token === apnsToken(2)).length, 0);

    const fcm = h.fcm.messages.filter((m) => m.token === "fcm-bob-0123456789abcdef");
    assert.equal(fcm.length, 1);
    assert.equal((fcm[0]!.message.data as Record<string, string>).message_id, "m1");

    const web = h.web.received.filter((w) => w.id === "bob");
    assert.equal(web.length, 1);
    const shown = JSON.parse(await decryptWebPush(web[0]!.body, ua)) as { title: string; body: string; data: Record<string, string> };
    assert.deepEqual([shown.title, shown.body, shown.data.message_id], ["Ana", "dinner at 8?", "m1"]);

    const log = (await h.call("listDeliveries", { notificationId: pending.notification_id })) as notificationsV1.ListDeliveriesResponse;
    assert.deepEqual(log.deliveries.map((d) => [d.provider, d.outcome, d.status, d.attempt]).sort(), [["apns", "sent", 200, 1], ["fcm", "sent", 200, 1], ["webpush", "sent", 201, 1]]);
    for (const provider of ["apns", "fcm", "webpush"]) assert.ok((await h.metric(`flotilla_notifications_push_attempts_total{provider="${provider}",outcome="sent"}`)) >= 1, provider);
    await assert.rejects(h.call("listDeliveries", { notificationId: pending.notification_id }, "u-ana"), { code: "NOTIFICATIONS_ERR_NOTIFICATION_NOT_FOUND" });
  });

  test(`[${name}] a redelivered or republished message_sent pushes once`, async () => {
    const token = apnsToken(3);
    await register("u-cy", { token: { case: "apnsToken", value: token }, platform: 1 });
    const eventId = await h.sent({ conversationId: "c2", messageId: "m2", sender: "u-ana", recipients: ["u-cy"] });
    await h.sent({ conversationId: "c2", messageId: "m2", sender: "u-ana", recipients: ["u-cy"] }, eventId);
    await inState("m2", "u-cy", "pending");
    h.advance(GRACE_MS);
    await inState("m2", "u-cy", "sent");
    // Late: the same event again (inbox dedupe), and the same message under a new event id (unique per message and user).
    await h.sent({ conversationId: "c2", messageId: "m2", sender: "u-ana", recipients: ["u-cy"] }, eventId);
    await h.sent({ conversationId: "c2", messageId: "m2", sender: "u-ana", recipients: ["u-cy"] });
    // A later message going out proves the scheduler ran again after the duplicates.
    await h.sent({ conversationId: "c2", messageId: "m2b", sender: "u-ana", recipients: ["u-cy"] });
    await inState("m2b", "u-cy", "pending");
    h.advance(GRACE_MS);
    await inState("m2b", "u-cy", "sent");
    const pushes = h.apns.pushes.filter((p) => p.token === token).map((p) => p.payload.message_id);
    assert.deepEqual(pushes, ["m2", "m2b"]);
    const rows = await h.hosted.db.query("SELECT 1 FROM notifications WHERE message_id = 'm2'");
    assert.equal(rows.length, 1);
  });

  test(`[${name}] a message seen on the socket within the grace period is not pushed, whichever event arrives first`, async () => {
    const token = apnsToken(4);
    await register("u-dee", { token: { case: "apnsToken", value: token }, platform: 1 });
    await h.sent({ conversationId: "c3", messageId: "m3", sender: "u-ana", recipients: ["u-dee"] });
    await inState("m3", "u-dee", "pending");
    await h.seen("m3", "u-dee");
    await inState("m3", "u-dee", "seen");

    await h.seen("m4", "u-dee");
    await eventually(async () => ((await h.hosted.db.query("SELECT 1 FROM seen_messages WHERE message_id = 'm4'")).length > 0 ? true : undefined), "m4 seen");
    await h.sent({ conversationId: "c3", messageId: "m4", sender: "u-ana", recipients: ["u-dee"] });
    await inState("m4", "u-dee", "seen");

    await h.sent({ conversationId: "c3", messageId: "m5", sender: "u-ana", recipients: ["u-dee"] });
    await inState("m5", "u-dee", "pending");
    h.advance(GRACE_MS);
    await inState("m5", "u-dee", "sent");
    assert.deepEqual(h.apns.pushes.filter((p) => p.token === token).map((p) => p.payload.message_id), ["m5"]);
  });

  test(`[${name}] muted conversations and quiet hours are recorded as suppressed, not pushed`, async () => {
    const token = apnsToken(5);
    await register("u-eve", { token: { case: "apnsToken", value: token }, platform: 1 });
    // The harness clock is 12:00 UTC = 13:00 in Lisbon (summer).
    await h.call("updatePreferences", { preferences: { mutedConversationIds: ["c-muted"], quietHours: { start: "12:30", end: "14:00", timeZone: "Europe/Lisbon" } } }, "u-eve");
    await h.sent({ conversationId: "c-muted", messageId: "m6", sender: "u-ana", recipients: ["u-eve"] });
    await h.sent({ conversationId: "c-open", messageId: "m7", sender: "u-ana", recipients: ["u-eve"] });
    assert.equal((await inState("m6", "u-eve", "suppressed")).reason, "muted");
    assert.equal((await inState("m7", "u-eve", "suppressed")).reason, "quiet_hours");
    await h.call("updatePreferences", { preferences: { mutedConversationIds: ["c-muted"] } }, "u-eve");
    await h.sent({ conversationId: "c-open", messageId: "m8", sender: "u-ana", recipients: ["u-eve"] });
    await inState("m8", "u-eve", "pending");
    h.advance(GRACE_MS);
    await inState("m8", "u-eve", "sent");
    assert.deepEqual(h.apns.pushes.filter((p) => p.token === token).map((p) => p.payload.message_id), ["m8"]);
  });

  test(`[${name}] a token the provider reports dead deactivates the device and is not pushed again`, async () => {
    const token = apnsToken(6);
    await register("u-fay", { token: { case: "apnsToken", value: token }, platform: 1 });
    await register("u-fay", { token: { case: "fcmToken", value: "fcm-fay-0123456789abcdef" }, platform: 2 });
    const ua = h.browser();
    await register("u-fay", { token: { case: "webPush", value: { endpoint: `${h.webOrigin}/push/fay`, ...ua.keys } }, platform: 3 });
    h.apns.script.set(token, [{ status: 410, reason: "Unregistered" }]);
    h.fcm.script.set("fcm-fay-0123456789abcdef", [{ status: 404, rpcStatus: "NOT_FOUND", errorCode: "UNREGISTERED" }]);
    h.web.script.set("fay", [{ status: 410 }]);
    await h.sent({ conversationId: "c4", messageId: "m9", sender: "u-ana", recipients: ["u-fay"] });
    await inState("m9", "u-fay", "pending");
    h.advance(GRACE_MS);
    const done = await inState("m9", "u-fay", "undelivered");
    assert.equal(done.reason, "all_failed");
    const devices = (await h.call("listDevices", {}, "u-fay")) as notificationsV1.ListDevicesResponse;
    assert.deepEqual(devices.devices.map((d) => d.active), [false, false, false]);
    const log = (await h.call("listDeliveries", { notificationId: done.notification_id }, "u-fay")) as notificationsV1.ListDeliveriesResponse;
    assert.deepEqual(log.deliveries.map((d) => [d.provider, d.outcome, d.status, d.reason]).sort(), [
      ["apns", "dead_token", 410, "Unregistered"],
      ["fcm", "dead_token", 404, "UNREGISTERED"],
      ["webpush", "dead_token", 410, "scripted 410"],
    ]);
    await h.sent({ conversationId: "c4", messageId: "m10", sender: "u-ana", recipients: ["u-fay"] });
    h.advance(GRACE_MS);
    assert.equal((await inState("m10", "u-fay", "undelivered")).reason, "no_device");
    assert.equal(h.apns.requests.filter((r) => r.token === token).length, 1);
    // Registering the token again brings the device back.
    const again = await register("u-fay", { token: { case: "apnsToken", value: token }, platform: 1 });
    assert.equal(again.active, true);
  });

  test(`[${name}] throttling and server errors are retried later, honouring Retry-After, until the attempts run out`, async () => {
    await register("u-gus", { token: { case: "fcmToken", value: "fcm-gus-0123456789abcdef" }, platform: 2 });
    h.fcm.script.set("fcm-gus-0123456789abcdef", [{ status: 429, rpcStatus: "RESOURCE_EXHAUSTED", errorCode: "QUOTA_EXCEEDED", retryAfter: "30" }]);
    await h.sent({ conversationId: "c5", messageId: "m11", sender: "u-ana", recipients: ["u-gus"] });
    await inState("m11", "u-gus", "pending");
    h.advance(GRACE_MS);
    const retrying = await eventually(async () => {
      const r = await row("m11", "u-gus");
      return r?.reason === "retrying" ? r : undefined;
    }, "m11 retrying");
    const [due] = await h.hosted.db.query<{ due_at: Date | string }>("SELECT due_at FROM notifications WHERE notification_id = $1", [retrying.notification_id]);
    assert.equal(new Date(due!.due_at).getTime(), h.clock.now.getTime() + 30_000, "Retry-After is longer than the backoff");
    h.advance(30_000);
    await inState("m11", "u-gus", "sent");
    const log = (await h.call("listDeliveries", { notificationId: retrying.notification_id }, "u-gus")) as notificationsV1.ListDeliveriesResponse;
    assert.deepEqual(log.deliveries.map((d) => [d.attempt, d.outcome, d.status]), [[1, "retry", 429], [2, "sent", 200]]);
    assert.equal(h.fcm.messages.filter((m) => m.token === "fcm-gus-0123456789abcdef").length, 1);

    const ua = h.browser();
    await register("u-hal", { token: { case: "webPush", value: { endpoint: `${h.webOrigin}/push/hal`, ...ua.keys } }, platform: 3 });
    h.web.script.set("hal", [{ status: 503 }, { status: 500 }, { status: 502 }, { status: 500 }]);
    await h.sent({ conversationId: "c5", messageId: "m12", sender: "u-ana", recipients: ["u-hal"] });
    await inState("m12", "u-hal", "pending");
    for (let i = 0; i < 3; i++) {
      h.advance(60_000);
      await eventually(async () => ((await h.hosted.db.query("SELECT 1 FROM deliveries d JOIN notifications n USING (notification_id) WHERE n.message_id = 'm12'")).length > i ? true : undefined), `attempt ${i + 1}`);
    }
    const failed = await inState("m12", "u-hal", "undelivered");
    const attempts = (await h.call("listDeliveries", { notificationId: failed.notification_id }, "u-hal")) as notificationsV1.ListDeliveriesResponse;
    assert.deepEqual(attempts.deliveries.map((d) => [d.attempt, d.outcome, d.status]), [[1, "retry", 503], [2, "retry", 500], [3, "failed", 502]]);
    assert.equal(h.web.received.filter((w) => w.id === "hal").length, 0);
  });

  test(`[${name}] pending notifications survive a restart, and one claimed by a scheduler that died is sent when its lease ends`, async () => {
    const token = apnsToken(7);
    await register("u-ivy", { token: { case: "apnsToken", value: token }, platform: 1 });
    await h.sent({ conversationId: "c6", messageId: "m13", sender: "u-ana", recipients: ["u-ivy"] });
    await h.sent({ conversationId: "c6", messageId: "m14", sender: "u-ana", recipients: ["u-ivy"] });
    await inState("m13", "u-ivy", "pending");
    const orphan = await inState("m14", "u-ivy", "pending");
    await h.restart();
    // As if a scheduler had claimed m14 and died before pushing.
    await h.hosted.db.query("UPDATE notifications SET lease_until = $2 WHERE notification_id = $1", [orphan.notification_id, new Date(h.clock.now.getTime() + GRACE_MS + 60_000).toISOString()]);
    h.advance(GRACE_MS);
    await inState("m13", "u-ivy", "sent");
    assert.equal((await row("m14", "u-ivy"))?.state, "pending", "still leased");
    h.advance(60_000);
    await inState("m14", "u-ivy", "sent");
    assert.deepEqual(h.apns.pushes.filter((p) => p.token === token).map((p) => p.payload.message_id), ["m13", "m14"]);
  });

  test(`[${name}] recipients are the members announced for the message's version, whichever event comes first; an older list arriving late changes nothing`, async () => {
    const tokens = { "u-jo": apnsToken(8), "u-kim": apnsToken(9) };
    for (const [user, token] of Object.entries(tokens)) await register(user, { token: { case: "apnsToken", value: token }, platform: 1 });
    // message_sent ahead of its members: the handler fails with a retryable error and the bus delivers it again.
    await h.sent({ conversationId: "c7", messageId: "m15", sender: "u-ana", recipients: [] }, undefined, { announce: false });
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(await row("m15", "u-jo"), undefined, "nothing recorded before the members are known");
    assert.ok((await h.metric("flotilla_notifications_members_unknown_total")) >= 1, "counted");
    await h.members("c7", 0n, ["u-ana", "u-jo", "u-kim"]);
    await inState("m15", "u-jo", "pending");
    await inState("m15", "u-kim", "pending");

    // kim leaves at version 1; then a copy of version 0 arrives late (a new event id, so not an inbox duplicate).
    await h.members("c7", 1n, ["u-ana", "u-jo"]);
    const late = await h.members("c7", 0n, ["u-ana", "u-jo", "u-kim"], false);
    await eventually(async () => (await h.hosted.db.query("SELECT 1 FROM flotilla_inbox WHERE event_id = $1", [late]))[0], "the late members_changed handled");
    await h.sent({ conversationId: "c7", messageId: "m16", sender: "u-ana", recipients: [] }, undefined, { announce: false });
    await inState("m16", "u-jo", "pending");
    assert.equal(await row("m16", "u-kim"), undefined, "not a member at version 1");
    const kept = await h.hosted.db.query<{ user_id: string }>("SELECT user_id FROM conversation_members WHERE conversation_id = 'c7' ORDER BY user_id");
    assert.deepEqual(
      kept.map((r) => r.user_id),
      ["u-ana", "u-jo"],
    );

    h.advance(GRACE_MS);
    await inState("m15", "u-jo", "sent");
    await inState("m16", "u-jo", "sent");
    await inState("m15", "u-kim", "sent");
    assert.deepEqual(h.apns.pushes.filter((p) => p.token === tokens["u-jo"]).map((p) => p.payload.message_id).sort(), ["m15", "m16"]);
    assert.deepEqual(h.apns.pushes.filter((p) => p.token === tokens["u-kim"]).map((p) => p.payload.message_id), ["m15"]);
  });

  test(`[${name}] a message to a large group records one notification per member but the sender; an event from before members_version carries its own recipients`, async () => {
    const members = Array.from({ length: 2000 }, (_, i) => `u-big-${String(i).padStart(4, "0")}`);
    await h.call("updatePreferences", { preferences: { mutedConversationIds: ["c-big"] } }, "u-big-0007");
    await h.sent({ conversationId: "c-big", messageId: "m18", sender: members[0]!, recipients: members.slice(1) });
    await inState("m18", members[1999]!, "pending");
    const states = await h.hosted.db.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM notifications WHERE message_id = 'm18' GROUP BY state ORDER BY state");
    assert.deepEqual(
      states.map((r) => [r.state, r.n]),
      [
        ["pending", 1998],
        ["suppressed", 1],
      ],
    );
    assert.equal(await row("m18", members[0]!), undefined, "the sender is not notified");
    // None of them has a device: out of the way of the pushes below.
    await h.hosted.db.query("DELETE FROM notifications WHERE message_id = 'm18'");

    const token = apnsToken(11);
    await register("u-lee", { token: { case: "apnsToken", value: token }, platform: 1 });
    await h.sent({ conversationId: "c8", messageId: "m19", sender: "u-ana", recipients: ["u-lee"] }, undefined, { legacy: true });
    await inState("m19", "u-lee", "pending");
    h.advance(GRACE_MS);
    await inState("m19", "u-lee", "sent");
    assert.deepEqual(h.apns.pushes.filter((p) => p.token === token).map((p) => p.payload.message_id), ["m19"]);
  });
}
