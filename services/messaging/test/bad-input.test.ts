// Bad input the contract's validation lets through: a string with U+0000
// (PostgreSQL's text cannot hold it). Every string field of every method is
// refused with a typed invalid_argument naming the field — not an internal
// error — and nothing is stored.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { messagingV1 } from "@flotilla/contracts";
import { FlotillaError } from "@flotilla/kit";
import { createIssuer, type Hosted, hostMessaging } from "./support.ts";

let svc: Hosted;
let alice: string;

before(async () => {
  const issuer = await createIssuer();
  svc = await hostMessaging({ issuer });
  alice = await issuer.token("alice");
});
after(() => svc.stop());

const nul = (field: string) => (e: unknown) =>
  e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT" && e.rpc === "invalid_argument" && e.violations.some((v) => v.field === field);

test("U+0000 in any string of a request is refused naming the field; nothing is stored and the service still serves", async () => {
  const created = (await svc.call("createConversation", { kind: messagingV1.ConversationKind.GROUP, memberIds: ["bob"], title: "Trip" }, alice)) as messagingV1.CreateConversationResponse;
  const conversationId = created.conversation!.conversationId;
  const cases: Array<[keyof typeof messagingV1.MessagingService.method, object, string]> = [
    ["sendMessage", { conversationId, clientMessageId: "m1", text: "a\u0000b" }, "text"],
    ["sendMessage", { conversationId, clientMessageId: "m\u0000", text: "ab" }, "client_message_id"],
    ["sendMessage", { conversationId: "c\u0000", clientMessageId: "m1", text: "ab" }, "conversation_id"],
    ["createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: ["b\u0000"] }, "member_ids[0]"],
    ["createConversation", { kind: messagingV1.ConversationKind.GROUP, memberIds: ["bob"], title: "t\u0000" }, "title"],
    ["listMessages", { conversationId: "c\u0000" }, "conversation_id"],
    ["markRead", { conversationId: "c\u0000", seq: 1n }, "conversation_id"],
    ["listConversations", { pageToken: "\u0000" }, "page_token"],
  ];
  for (const [method, input, field] of cases) await assert.rejects(svc.call(method, input, alice), nul(field), `${method} ${field}`);

  const sent = (await svc.call("sendMessage", { conversationId, clientMessageId: "m1", text: "ab" }, alice)) as messagingV1.SendMessageResponse;
  assert.equal(sent.message!.seq, 1n, "the refused sends took no seq");
  const list = (await svc.call("listMessages", { conversationId }, alice)) as messagingV1.ListMessagesResponse;
  assert.deepEqual(
    list.messages.map((m) => m.text),
    ["ab"],
  );
  const mine = (await svc.call("listConversations", {}, alice)) as messagingV1.ListConversationsResponse;
  assert.equal(mine.conversations.length, 1, "no conversation was created by a refused call");
});
