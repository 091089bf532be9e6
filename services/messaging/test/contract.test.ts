// The messaging contract on PGlite: conversations, sends with gapless seqs and
// idempotent retries, catch-up paging, read receipts, membership, events.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { messagingEventsV1, messagingV1 } from "@flotilla/contracts";
import { create } from "@bufbuild/protobuf";
import { type CloudEvent, createLogger, FlotillaError } from "@flotilla/kit";
import { decodeEvent } from "@flotilla/kit/internal";
import { type Deps, sendMessage } from "../src/conversations.ts";
import { MemberLists } from "../src/member-lists.ts";
import { createIssuer, eventually, type Hosted, hostMessaging, type Issuer } from "./support.ts";

let issuer: Issuer;
let svc: Hosted;
let alice: string;
let bob: string;
let carol: string;

before(async () => {
  issuer = await createIssuer();
  // The announcer looks often, so that its test does not wait a minute.
  svc = await hostMessaging({ issuer, config: { FLOTILLA_MESSAGING_ANNOUNCE_MS: "200" } });
  [alice, bob, carol] = await Promise.all([issuer.token("alice"), issuer.token("bob"), issuer.token("carol")]);
});
after(() => svc.stop());

const code = (c: string) => (e: unknown) => e instanceof FlotillaError && e.code === c;

async function direct(a: string, other: string) {
  const out = (await svc.call("createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: [other] }, a)) as messagingV1.CreateConversationResponse;
  return out.conversation!;
}

async function send(token: string, conversationId: string, text: string, clientMessageId: string = crypto.randomUUID()) {
  return ((await svc.call("sendMessage", { conversationId, clientMessageId, text }, token)) as messagingV1.SendMessageResponse).message!;
}

test("a direct conversation is unique per pair, whoever starts it", async () => {
  const one = await direct(alice, "bob");
  const two = await direct(bob, "alice");
  assert.equal(one.conversationId, two.conversationId);
  assert.deepEqual(
    one.members.map((m) => m.userId),
    ["alice", "bob"],
  );
  await assert.rejects(svc.call("createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: ["bob", "carol"] }, alice), code("MESSAGING_ERR_BAD_MEMBERS"));
  await assert.rejects(svc.call("createConversation", { kind: messagingV1.ConversationKind.GROUP, memberIds: ["alice"] }, alice), code("MESSAGING_ERR_BAD_MEMBERS"));
});

test("calls without a valid token are unauthenticated", async () => {
  await assert.rejects(svc.call("listConversations", {}), code("MESSAGING_ERR_UNAUTHENTICATED"));
  const other = await createIssuer();
  await assert.rejects(svc.call("listConversations", {}, await other.token("alice")), (e) => e instanceof FlotillaError && e.rpc === "unauthenticated");
});

test("concurrent sends get seqs 1..n without gap or duplicate, and each leaves one message_sent event", async () => {
  const group = ((await svc.call("createConversation", { kind: messagingV1.ConversationKind.GROUP, memberIds: ["bob", "carol"], title: "Trip" }, alice)) as messagingV1.CreateConversationResponse)
    .conversation!;
  const sent = await Promise.all(Array.from({ length: 30 }, (_, i) => send([alice, bob, carol][i % 3]!, group.conversationId, `m${i}`)));
  assert.deepEqual(
    sent.map((m) => Number(m.seq)).sort((a, b) => a - b),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
  const events = await eventually(
    () => svc.events.filter((e) => e.type === "messaging.message_sent.v1" && e.subject === group.conversationId),
    (list) => list.length >= 30,
    "30 message_sent events",
  );
  assert.equal(events.length, 30);
  const first = decodeEvent(messagingEventsV1.MessageSentSchema, events.find((e) => decodeEvent(messagingEventsV1.MessageSentSchema, e).seq === 1n)!);
  assert.equal(first.conversationId, group.conversationId);
  assert.equal(first.membersVersion, 0n);
  assert.deepEqual(first.recipientIds, [], "the recipients are not in the event: members_changed says who they are");
  const announced = svc.events.filter((e) => e.type === "messaging.members_changed.v1" && e.subject === group.conversationId).map((e) => decodeEvent(messagingEventsV1.MembersChangedSchema, e));
  assert.deepEqual(
    announced.map((m) => [m.membersVersion, [...m.memberIds].sort()]),
    [[0n, ["alice", "bob", "carol"]]],
    "the members leave once, with the conversation",
  );
});

/** A change of membership, as one must be made: the members and the version in one transaction. */
async function addMember(conversationId: string, userId: string) {
  await svc.hosted.db.transaction(async (tx) => {
    await tx.query("INSERT INTO members (conversation_id, user_id) VALUES ($1, $2)", [conversationId, userId]);
    await tx.query("UPDATE conversations SET members_version = members_version + 1 WHERE conversation_id = $1", [conversationId]);
  });
}

test("a send uses the member list it kept only while members_version is unchanged", async () => {
  const group = ((await svc.call("createConversation", { kind: messagingV1.ConversationKind.GROUP, memberIds: ["bob"], title: "Kept" }, alice)) as messagingV1.CreateConversationResponse)
    .conversation!;
  // sendMessage itself, with the fan-out and the outbox recorded.
  const fannedOut: string[][] = [];
  const enqueued: CloudEvent[] = [];
  const deps: Deps = {
    db: svc.hosted.db,
    outbox: { enqueue: async (_tx, events) => void enqueued.push(...events) },
    source: "/test",
    log: createLogger("test", "silent"),
    fanout: { messageSent: (_m, members) => void fannedOut.push([...members].sort()), readReceipt: () => {} },
    memberLists: new MemberLists(),
  };
  const versionOf = (i: number) => decodeEvent(messagingEventsV1.MessageSentSchema, enqueued[i]!).membersVersion;
  await sendMessage(deps, "alice", create(messagingV1.SendMessageRequestSchema, { conversationId: group.conversationId, clientMessageId: "k1", text: "one" }));
  await addMember(group.conversationId, "carol");
  await sendMessage(deps, "alice", create(messagingV1.SendMessageRequestSchema, { conversationId: group.conversationId, clientMessageId: "k2", text: "two" }));
  await sendMessage(deps, "bob", create(messagingV1.SendMessageRequestSchema, { conversationId: group.conversationId, clientMessageId: "k3", text: "three" }));
  assert.deepEqual(fannedOut, [
    ["alice", "bob"],
    ["alice", "bob", "carol"],
    ["alice", "bob", "carol"],
  ]);
  assert.deepEqual([versionOf(0), versionOf(1), versionOf(2)], [0n, 1n, 1n]);
});

test("members not announced at their version (older conversations, a change that did not announce) are announced once by the announcer", async () => {
  const group = ((await svc.call("createConversation", { kind: messagingV1.ConversationKind.GROUP, memberIds: ["bob"], title: "Late" }, alice)) as messagingV1.CreateConversationResponse)
    .conversation!;
  // As stored before migration 0003: never announced.
  const old = `old-${crypto.randomUUID()}`;
  await svc.hosted.db.transaction(async (tx) => {
    await tx.query("INSERT INTO conversations (conversation_id, kind, title) VALUES ($1, $2, 'old')", [old, messagingV1.ConversationKind.GROUP]);
    await tx.query("INSERT INTO members (conversation_id, user_id) VALUES ($1, 'alice'), ($1, 'erin')", [old]);
  });
  await addMember(group.conversationId, "dave");
  const announcedOf = (id: string) =>
    svc.events.filter((e) => e.type === "messaging.members_changed.v1" && e.subject === id).map((e) => decodeEvent(messagingEventsV1.MembersChangedSchema, e)).map((m) => [m.membersVersion, [...m.memberIds].sort()]);
  await eventually(
    () => announcedOf(old),
    (list) => list.length > 0,
    "the old conversation announced",
  );
  await eventually(
    () => announcedOf(group.conversationId),
    (list) => list.length > 1,
    "the change announced",
  );
  // Several more looks of the announcer: nothing is announced twice.
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.deepEqual(announcedOf(old), [[0n, ["alice", "erin"]]]);
  assert.deepEqual(announcedOf(group.conversationId), [
    [0n, ["alice", "bob"]],
    [1n, ["alice", "bob", "dave"]],
  ]);
});

test("a retried send with the same client_message_id is stored once and answers the same message", async () => {
  const c = await direct(alice, "dave");
  const [a, b] = await Promise.all([send(alice, c.conversationId, "hi", "cm-1"), send(alice, c.conversationId, "hi", "cm-1")]);
  const again = await send(alice, c.conversationId, "hi", "cm-1");
  assert.equal(a.messageId, b.messageId);
  assert.equal(a.messageId, again.messageId);
  assert.equal(again.seq, 1n);
  const list = (await svc.call("listMessages", { conversationId: c.conversationId }, alice)) as messagingV1.ListMessagesResponse;
  assert.equal(list.messages.length, 1);
  await assert.rejects(send(alice, c.conversationId, "other text", "cm-1"), code("MESSAGING_ERR_CLIENT_ID_REUSED"));
});

test("catch-up pages after a seq, oldest first", async () => {
  const c = await direct(carol, "erin");
  for (let i = 1; i <= 7; i++) await send(carol, c.conversationId, `n${i}`);
  const page1 = (await svc.call("listMessages", { conversationId: c.conversationId, afterSeq: 2n, pageSize: 3 }, carol)) as messagingV1.ListMessagesResponse;
  assert.deepEqual(page1.messages.map((m) => m.text), ["n3", "n4", "n5"]);
  assert.equal(page1.hasMore, true);
  const page2 = (await svc.call("listMessages", { conversationId: c.conversationId, afterSeq: page1.messages.at(-1)!.seq, pageSize: 3 }, carol)) as messagingV1.ListMessagesResponse;
  assert.deepEqual(page2.messages.map((m) => m.text), ["n6", "n7"]);
  assert.equal(page2.hasMore, false);
});

test("only members read or write; an unknown conversation is not found", async () => {
  const c = await direct(alice, "bob");
  await assert.rejects(send(carol, c.conversationId, "let me in"), code("MESSAGING_ERR_NOT_A_MEMBER"));
  await assert.rejects(svc.call("listMessages", { conversationId: c.conversationId }, carol), code("MESSAGING_ERR_NOT_A_MEMBER"));
  await assert.rejects(svc.call("markRead", { conversationId: c.conversationId, seq: 1n }, carol), code("MESSAGING_ERR_NOT_A_MEMBER"));
  await assert.rejects(send(alice, "no-such-conversation", "hello"), code("MESSAGING_ERR_CONVERSATION_NOT_FOUND"));
  const mine = (await svc.call("listConversations", {}, carol)) as messagingV1.ListConversationsResponse;
  assert.ok(mine.conversations.every((x) => x.members.some((m) => m.userId === "carol")));
});

test("oversized and empty messages are refused by validation", async () => {
  const c = await direct(alice, "frank");
  await assert.rejects(send(alice, c.conversationId, "x".repeat(8193)), code("KIT_ERR_INVALID_ARGUMENT"));
  await assert.rejects(send(alice, c.conversationId, ""), code("KIT_ERR_INVALID_ARGUMENT"));
});

test("a read receipt moves forward only, is bounded by the newest seq, and leaves message_seen", async () => {
  const c = await direct(alice, "gina");
  const gina = await issuer.token("gina");
  const m1 = await send(alice, c.conversationId, "one");
  await send(alice, c.conversationId, "two");
  const read = (await svc.call("markRead", { conversationId: c.conversationId, seq: 2n }, gina)) as messagingV1.MarkReadResponse;
  assert.equal(read.readSeq, 2n);
  const back = (await svc.call("markRead", { conversationId: c.conversationId, seq: m1.seq }, gina)) as messagingV1.MarkReadResponse;
  assert.equal(back.readSeq, 2n);
  await assert.rejects(svc.call("markRead", { conversationId: c.conversationId, seq: 3n }, gina), code("MESSAGING_ERR_SEQ_AHEAD"));
  const seen = await eventually(
    () => svc.events.filter((e) => e.type === "messaging.message_seen.v1" && e.subject === c.conversationId),
    (l) => l.length >= 1,
    "message_seen",
  );
  const data = decodeEvent(messagingEventsV1.MessageSeenSchema, seen[0]!);
  assert.equal(data.userId, "gina");
  assert.equal(data.via, messagingEventsV1.SeenVia.READ_RECEIPT);
});

test("conversations list most recent activity first, in pages", async () => {
  const henry = await issuer.token("henry");
  const ids: string[] = [];
  for (const other of ["p1", "p2", "p3"]) ids.push((await direct(henry, other)).conversationId);
  await send(henry, ids[0]!, "bump");
  const p1 = (await svc.call("listConversations", { pageSize: 2 }, henry)) as messagingV1.ListConversationsResponse;
  assert.equal(p1.conversations[0]!.conversationId, ids[0]);
  assert.notEqual(p1.nextPageToken, "");
  const p2 = (await svc.call("listConversations", { pageSize: 2, pageToken: p1.nextPageToken }, henry)) as messagingV1.ListConversationsResponse;
  assert.deepEqual([...p1.conversations, ...p2.conversations].map((c) => c.conversationId).sort(), [...ids].sort());
  assert.equal(p2.nextPageToken, "");
  await assert.rejects(svc.call("listConversations", { pageToken: "bm9wZQ" }, henry), code("MESSAGING_ERR_BAD_PAGE_TOKEN"));
});
