// Sequence numbers on PostgreSQL, where sends really run in parallel on a
// connection pool: the conversation's row lock serialises them, so seqs are
// 1..n with no gap and no duplicate, and concurrent retries store once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { messagingV1 } from "@flotilla/contracts";
import { PostgresProvider } from "@flotilla/kit/internal";
import { dropDatabasesWithPrefix, testPostgresUrl, uniqueDatabasePrefix } from "@flotilla/kit/testing";
import { createIssuer, type Hosted, hostMessaging, type Issuer } from "./support.ts";

const prefix = uniqueDatabasePrefix("msg");
const provider = new PostgresProvider({ url: testPostgresUrl, databasePrefix: prefix });
let issuer: Issuer;
let svc: Hosted;

before(async () => {
  issuer = await createIssuer();
  svc = await hostMessaging({ issuer, provider });
});
after(async () => {
  await svc.stop();
  await provider.close();
  await dropDatabasesWithPrefix(prefix);
});

test("concurrent sends and concurrent retries on PostgreSQL: seqs 1..n, each message stored once", async () => {
  const [alice, bob] = await Promise.all([issuer.token("alice"), issuer.token("bob")]);
  const created = (await svc.call("createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: ["bob"] }, alice)) as messagingV1.CreateConversationResponse;
  const conversationId = created.conversation!.conversationId;
  // 40 messages, each sent twice at once (a client retrying while the first is in flight).
  const sends = Array.from({ length: 40 }, (_, i) => ({ token: i % 2 ? alice : bob, clientMessageId: `c-${i}`, text: `m${i}` }));
  const answers = await Promise.all(
    [...sends, ...sends].map(
      async (s) => ((await svc.call("sendMessage", { conversationId, clientMessageId: s.clientMessageId, text: s.text }, s.token)) as messagingV1.SendMessageResponse).message!,
    ),
  );
  for (let i = 0; i < 40; i++) assert.equal(answers[i]!.messageId, answers[i + 40]!.messageId, `both attempts of c-${i} answer one message`);
  const listed = (await svc.call("listMessages", { conversationId, pageSize: 500 }, alice)) as messagingV1.ListMessagesResponse;
  assert.deepEqual(
    listed.messages.map((m) => Number(m.seq)),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.equal(new Set(listed.messages.map((m) => m.clientMessageId)).size, 40);
});
