// The event messaging really emits, delivered again: the same message_sent
// (same event id, as the bus redelivers after a lost ack) and the same message
// under a new event id (a relay that published twice) push once on each of
// APNs, FCM and Web Push.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { messagingEventsV1, messagingV1 } from "@flotilla/contracts";
import type { CloudEvent } from "@flotilla/kit";
import { decodeEvent } from "@flotilla/kit/internal";
import type { Hosted, Issuer } from "../../messaging/test/support.ts";
import { decryptWebPush } from "./fakes/fake-web-push.ts";
import { eventually, GRACE_MS, type Harness } from "./harness.ts";
import { type MessagingWorld, startMessagingWorld } from "./messaging-world.ts";

let world: MessagingWorld;
let h: Harness;
let messaging: Hosted;
let issuer: Issuer;

before(async () => {
  world = await startMessagingWorld();
  ({ h, messaging, issuer } = world);
});
after(() => world.stop());

const state = (messageId: string, want: string) =>
  eventually(async () => {
    const [r] = await h.hosted.db.query<{ state: string }>("SELECT state FROM notifications WHERE message_id = $1 AND user_id = 'acc_ivy'", [messageId]);
    return r?.state === want ? r : undefined;
  }, `${messageId} ${want}`);

async function send(token: string, conversationId: string, text: string): Promise<{ messageId: string; event: CloudEvent }> {
  const message = ((await messaging.call("sendMessage", { conversationId, clientMessageId: crypto.randomUUID(), text }, token)) as messagingV1.SendMessageResponse).message!;
  const event = await eventually(async () => messaging.events.find((e) => e.type === "messaging.message_sent.v1" && decodeEvent(messagingEventsV1.MessageSentSchema, e).messageId === message.messageId), "the message_sent event");
  return { messageId: message.messageId, event };
}

test("messaging's message_sent delivered again, or published again, pushes once per device", async () => {
  const apnsToken = "ef".repeat(32);
  const ua = h.browser();
  await h.call("registerDevice", { token: { case: "apnsToken", value: apnsToken }, platform: 1 }, "acc_ivy");
  await h.call("registerDevice", { token: { case: "fcmToken", value: "fcm-ivy-0123456789abcdef" }, platform: 2 }, "acc_ivy");
  await h.call("registerDevice", { token: { case: "webPush", value: { endpoint: `${h.webOrigin}/push/ivy`, ...ua.keys } }, platform: 3 }, "acc_ivy");
  const jo = await issuer.token("acc_jo");
  const { conversation } = (await messaging.call("createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: ["acc_ivy"] }, jo)) as messagingV1.CreateConversationResponse;
  const conversationId = conversation!.conversationId;

  const first = await send(jo, conversationId, "lunch?");
  await state(first.messageId, "pending");
  // Before the push: the same event again (inbox dedupe by event id).
  await h.bus.publish([first.event]);
  h.advance(GRACE_MS);
  await state(first.messageId, "sent");
  // After the push: the same event again, and the same message under a new event id.
  await h.bus.publish([first.event]);
  await h.bus.publish([{ ...first.event, id: crypto.randomUUID() }]);
  // A later message pushed proves the scheduler ran after the duplicates.
  const second = await send(jo, conversationId, "or dinner");
  await state(second.messageId, "pending");
  h.advance(GRACE_MS);
  await state(second.messageId, "sent");

  const expected = [first.messageId, second.messageId];
  assert.deepEqual(
    h.apns.pushes.filter((p) => p.token === apnsToken).map((p) => p.payload.message_id),
    expected,
  );
  assert.deepEqual(
    h.fcm.messages.filter((m) => m.token === "fcm-ivy-0123456789abcdef").map((m) => (m.message.data as Record<string, string>).message_id),
    expected,
  );
  const web = h.web.received.filter((w) => w.id === "ivy");
  const shown = await Promise.all(web.map(async (w) => (JSON.parse(await decryptWebPush(w.body, ua)) as { data: Record<string, string> }).data.message_id));
  assert.deepEqual(shown, expected);
  const rows = await h.hosted.db.query("SELECT 1 FROM notifications WHERE message_id = $1", [first.messageId]);
  assert.equal(rows.length, 1);
});
