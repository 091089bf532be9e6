// The FCM provider against a local FCM: token exchange and HTTP v1 send.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { FakeFcm } from "../../test/fakes/fake-fcm.ts";
import { FcmProvider, type ServiceAccount } from "./fcm.ts";
import type { PushMessage } from "./types.ts";

const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const key = rsa();
const token = "fcm-token:APA91b-device-1";
const message: PushMessage = { title: "Ana", body: "see you at 8", data: { conversation_id: "c1", message_id: "m1" }, collapseKey: "m1", threadId: "c1", priority: "high" };

let fake: FakeFcm;
let endpoint: string;
let account: ServiceAccount;

before(async () => {
  fake = new FakeFcm({ projectId: "flotilla-test", clientEmail: "push@flotilla-test.iam.gserviceaccount.com", publicKey: key.publicKey });
  endpoint = await fake.listen();
  account = { project_id: "flotilla-test", client_email: "push@flotilla-test.iam.gserviceaccount.com", private_key: key.privateKey, private_key_id: "k1", token_uri: fake.tokenUri };
});

after(() => fake.close());

test("the service-account assertion is exchanged once, and the message sent with the bearer", async () => {
  const p = new FcmProvider({ account, endpoint });
  const exchanges = fake.exchanges;
  const first = await p.send({ token }, message);
  const second = await p.send({ token }, message);
  assert.equal(first.outcome, "sent");
  assert.equal(second.outcome, "sent");
  assert.match(first.providerId ?? "", /^projects\/flotilla-test\/messages\/\d+$/);
  assert.equal(fake.exchanges - exchanges, 1, "the access token is cached");
  const sent = fake.messages.at(-1)!;
  assert.equal(sent.token, token);
  assert.deepEqual(sent.message.notification, { title: "Ana", body: "see you at 8" });
  assert.deepEqual(sent.message.data, { conversation_id: "c1", message_id: "m1" });
  assert.equal((sent.message.android as { priority: string; collapse_key: string }).collapse_key, "m1");
});

test("the access token is exchanged again once it expires", async () => {
  let now = new Date();
  const p = new FcmProvider({ account, endpoint, now: () => now });
  const exchanges = fake.exchanges;
  await p.send({ token }, message);
  now = new Date(now.getTime() + 3600_000);
  await p.send({ token }, message);
  assert.equal(fake.exchanges - exchanges, 2);
});

test("an assertion signed with the wrong key is refused: failed, not retried", async () => {
  const p = new FcmProvider({ account: { ...account, private_key: rsa().privateKey }, endpoint });
  const refused = fake.refusedAssertions;
  const result = await p.send({ token }, message);
  assert.equal(result.outcome, "failed");
  assert.equal(result.status, 400);
  assert.match(result.reason, /invalid_grant/);
  assert.equal(fake.refusedAssertions - refused, 1);
});

test("a revoked access token (401) is exchanged again for the next attempt", async () => {
  const p = new FcmProvider({ account, endpoint });
  assert.equal((await p.send({ token }, message)).outcome, "sent");
  fake.revokeAll();
  const exchanges = fake.exchanges;
  const refused = await p.send({ token }, message);
  assert.deepEqual([refused.outcome, refused.status], ["retry", 401]);
  assert.equal((await p.send({ token }, message)).outcome, "sent");
  assert.equal(fake.exchanges - exchanges, 1);
});

test("each FCM error is classified", async () => {
  const p = new FcmProvider({ account, endpoint });
  const cases = [
    { answer: { status: 404, rpcStatus: "NOT_FOUND", errorCode: "UNREGISTERED" }, outcome: "dead_token", reason: "UNREGISTERED" },
    { answer: { status: 400, rpcStatus: "INVALID_ARGUMENT", errorCode: "UNREGISTERED" }, outcome: "dead_token", reason: "UNREGISTERED" },
    { answer: { status: 400, rpcStatus: "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT" }, outcome: "failed", reason: "INVALID_ARGUMENT" },
    { answer: { status: 429, rpcStatus: "RESOURCE_EXHAUSTED", errorCode: "QUOTA_EXCEEDED", retryAfter: "30" }, outcome: "retry", reason: "QUOTA_EXCEEDED", retryAfterMs: 30_000 },
    { answer: { status: 503, rpcStatus: "UNAVAILABLE", errorCode: "UNAVAILABLE" }, outcome: "retry", reason: "UNAVAILABLE" },
    { answer: { status: 500, rpcStatus: "INTERNAL", errorCode: "INTERNAL" }, outcome: "retry", reason: "INTERNAL" },
    { answer: { status: 403, rpcStatus: "PERMISSION_DENIED", errorCode: "SENDER_ID_MISMATCH" }, outcome: "failed", reason: "SENDER_ID_MISMATCH" },
  ] as const;
  for (const c of cases) {
    fake.script.set(token, [c.answer]);
    const result = await p.send({ token }, message);
    assert.equal(result.outcome, c.outcome, c.reason);
    assert.equal(result.status, c.answer.status);
    assert.equal(result.reason, c.reason);
    if ("retryAfterMs" in c) assert.equal(result.retryAfterMs, c.retryAfterMs);
  }
});

test("data over FCM's 4 KB limit is refused by the fake: failed", async () => {
  const p = new FcmProvider({ account, endpoint });
  const result = await p.send({ token }, { ...message, data: { blob: "x".repeat(5000) } });
  assert.deepEqual([result.outcome, result.status], ["failed", 400]);
});

test("an unreachable FCM is retryable", async () => {
  const p = new FcmProvider({ account, endpoint: "http://127.0.0.1:1", tokenUri: "http://127.0.0.1:1/token" });
  const result = await p.send({ token }, message);
  assert.equal(result.outcome, "retry");
  assert.equal(result.status, 0);
});
