// The Web Push provider against a local push service; the test decrypts
// what arrived, as the browser would, to prove the payload.
import assert from "node:assert/strict";
import { createECDH, randomBytes } from "node:crypto";
import { Agent } from "node:https";
import { after, before, test } from "node:test";
import webpush from "web-push";
import { decryptWebPush, FakeWebPush } from "../../test/fakes/fake-web-push.ts";
import { selfSignedCert } from "../../test/fakes/tls.ts";
import type { PushMessage } from "./types.ts";
import { WebPushProvider } from "./web-push.ts";

const vapid = webpush.generateVAPIDKeys();
const message: PushMessage = { title: "Ana", body: "see you at 8 ☕", data: { conversation_id: "c1", message_id: "m1" }, collapseKey: "m-1", threadId: "c1", priority: "high" };

let fake: FakeWebPush;
let origin: string;
let agent: Agent;

function browser() {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } };
}

before(async () => {
  const tls = await selfSignedCert();
  fake = new FakeWebPush(tls);
  origin = await fake.listen();
  agent = new Agent({ ca: tls.cert });
});

after(async () => {
  agent.destroy();
  await fake.close();
});

test("a push is VAPID-signed, aes128gcm-encrypted for the subscription, and decrypts to the message", async () => {
  const ua = browser();
  const p = new WebPushProvider({ ...vapid, subject: "mailto:ops@example.com", agent });
  const result = await p.send({ token: `${origin}/push/sub1`, ...ua.keys }, message);
  assert.equal(result.outcome, "sent");
  assert.equal(result.status, 201);
  assert.match(result.providerId ?? "", /\/message\//);
  const got = fake.received.at(-1)!;
  assert.equal(got.id, "sub1");
  assert.equal(got.vapidKey, vapid.publicKey);
  assert.equal(got.headers["content-encoding"], "aes128gcm");
  assert.equal(got.headers.urgency, "high");
  assert.equal(got.headers.topic, "m-1");
  assert.deepEqual(JSON.parse(await decryptWebPush(got.body, ua)), { title: "Ana", body: "see you at 8 ☕", data: { conversation_id: "c1", message_id: "m1" }, tag: "c1" });
  // Another browser's keys cannot read it.
  await assert.rejects(decryptWebPush(got.body, browser()));
});

test("a request signed with a key other than the one it names is refused by the push service", async () => {
  const other = webpush.generateVAPIDKeys();
  const ua = browser();
  // The private key of one pair with the public key of another: the signature does not verify.
  const p = new WebPushProvider({ publicKey: vapid.publicKey, privateKey: other.privateKey, subject: "mailto:ops@example.com", agent });
  const result = await p.send({ token: `${origin}/push/sub2`, ...ua.keys }, message);
  assert.deepEqual([result.outcome, result.status], ["failed", 403]);
});

test("each push-service error is classified", async () => {
  const p = new WebPushProvider({ ...vapid, subject: "mailto:ops@example.com", agent });
  const ua = browser();
  const cases = [
    { answer: { status: 404 }, outcome: "dead_token" },
    { answer: { status: 410 }, outcome: "dead_token" },
    { answer: { status: 429, retryAfter: "12" }, outcome: "retry", retryAfterMs: 12_000 },
    { answer: { status: 500 }, outcome: "retry" },
    { answer: { status: 503 }, outcome: "retry" },
    { answer: { status: 413 }, outcome: "failed" },
  ] as const;
  for (const c of cases) {
    fake.script.set("sub3", [c.answer]);
    const result = await p.send({ token: `${origin}/push/sub3`, ...ua.keys }, message);
    assert.equal(result.outcome, c.outcome, String(c.answer.status));
    assert.equal(result.status, c.answer.status);
    if ("retryAfterMs" in c) assert.equal(result.retryAfterMs, c.retryAfterMs);
  }
});

test("a malformed VAPID key pair is refused at construction", () => {
  assert.throws(() => new WebPushProvider({ publicKey: "short", privateKey: vapid.privateKey, subject: "mailto:ops@example.com" }));
  assert.throws(() => new WebPushProvider({ ...vapid, subject: "not a url" }));
});

test("an unreachable push service is retryable", async () => {
  const p = new WebPushProvider({ ...vapid, subject: "mailto:ops@example.com", agent, timeoutMs: 2000 });
  const result = await p.send({ token: "https://127.0.0.1:1/push/x", ...browser().keys }, message);
  assert.equal(result.outcome, "retry");
  assert.equal(result.status, 0);
});
