// The two services on one bus, as `flotilla dev` runs them: a message sent
// through messaging's contract reaches an offline recipient's phone once; a
// message the recipient reads within the grace period is not pushed. This
// checks the events both sides take from proto/flotilla/messaging/v1/events.proto.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { messagingV1 } from "@flotilla/contracts";
import type { Hosted, Issuer } from "../../messaging/test/support.ts";
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

const state = (messageId: string, userId: string, want: string) =>
  eventually(async () => {
    const [r] = await h.hosted.db.query<{ state: string }>("SELECT state FROM notifications WHERE message_id = $1 AND user_id = $2", [messageId, userId]);
    return r?.state === want ? r : undefined;
  }, `${messageId} ${want}`);

test("a message to an offline member is pushed once; one read within the grace period is not", async () => {
  const token = "cd".repeat(32);
  await h.call("registerDevice", { token: { case: "apnsToken", value: token }, platform: 1 }, "acc_bob");
  const ana = await issuer.token("acc_ana");
  const bob = await issuer.token("acc_bob");
  const { conversation } = (await messaging.call("createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: ["acc_bob"] }, ana)) as messagingV1.CreateConversationResponse;
  const conversationId = conversation!.conversationId;

  const first = ((await messaging.call("sendMessage", { conversationId, clientMessageId: "c-1", text: "are you coming tonight?" }, ana)) as messagingV1.SendMessageResponse).message!;
  // A retried send (same client_message_id) is stored once, so it cannot push twice either.
  await messaging.call("sendMessage", { conversationId, clientMessageId: "c-1", text: "are you coming tonight?" }, ana);
  await state(first.messageId, "acc_bob", "pending");
  h.advance(GRACE_MS);
  await state(first.messageId, "acc_bob", "sent");

  const second = ((await messaging.call("sendMessage", { conversationId, clientMessageId: "c-2", text: "never mind" }, ana)) as messagingV1.SendMessageResponse).message!;
  await state(second.messageId, "acc_bob", "pending");
  await messaging.call("markRead", { conversationId, seq: second.seq }, bob);
  await state(second.messageId, "acc_bob", "seen");
  h.advance(GRACE_MS);

  const third = ((await messaging.call("sendMessage", { conversationId, clientMessageId: "c-3", text: "ok see you" }, ana)) as messagingV1.SendMessageResponse).message!;
  await state(third.messageId, "acc_bob", "pending");
  h.advance(GRACE_MS);
  await state(third.messageId, "acc_bob", "sent");

  const pushed = h.apns.pushes.filter((p) => p.token === token);
  assert.deepEqual(
    pushed.map((p) => [p.payload.message_id, (p.payload.aps as { alert: { body: string } }).alert.body]),
    [
      [first.messageId, "are you coming tonight?"],
      [third.messageId, "ok see you"],
    ],
  );
  assert.equal(await h.hosted.db.query("SELECT 1 FROM notifications WHERE user_id = 'acc_ana'").then((r) => r.length), 0, "the sender is never notified");
});
