// The APNs provider against a local APNs that checks what Apple checks.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { FakeApns } from "../../test/fakes/fake-apns.ts";
import { selfSignedCert, type TestCert } from "../../test/fakes/tls.ts";
import { APNS_MAX_PAYLOAD, ApnsProvider, apnsPayload } from "./apns.ts";
import type { PushMessage } from "./types.ts";

const pair = () => generateKeyPairSync("ec", { namedCurve: "prime256v1", privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const key = pair();
const ids = { keyId: "ABC123DEFG", teamId: "TEAM123456", topic: "com.example.chat" };
const token = "a1".repeat(32);
const message: PushMessage = { title: "Ana", body: "see you at 8", data: { conversation_id: "c1", message_id: "m1" }, collapseKey: "m1", threadId: "c1", priority: "high", expiresAt: new Date("2031-01-01T00:00:00Z") };

let tls: TestCert;
let fake: FakeApns;
let endpoint: string;
const opened: ApnsProvider[] = [];

function provider(extra: Partial<ConstructorParameters<typeof ApnsProvider>[0]> = {}): ApnsProvider {
  const p = new ApnsProvider({ key: key.privateKey, ...ids, endpoint, ca: tls.cert, ...extra });
  opened.push(p);
  return p;
}

before(async () => {
  tls = await selfSignedCert();
  fake = new FakeApns({ tls, publicKey: key.publicKey, ...ids });
  endpoint = await fake.listen();
});

after(async () => {
  await Promise.all(opened.map((p) => p.close()));
  await fake.close();
});

test("a push goes over HTTP/2 with a valid provider token and the apns-* headers", async () => {
  const result = await provider().send({ token }, message);
  assert.equal(result.outcome, "sent");
  assert.equal(result.status, 200);
  assert.match(result.providerId ?? "", /^[0-9A-F-]{36}$/);
  const push = fake.pushes.at(-1)!;
  assert.equal(push.token, token);
  assert.equal(push.headers["apns-topic"], ids.topic);
  assert.equal(push.headers["apns-push-type"], "alert");
  assert.equal(push.headers["apns-priority"], "10");
  assert.equal(push.headers["apns-collapse-id"], "m1");
  assert.equal(push.headers["apns-expiration"], String(Date.UTC(2031, 0, 1) / 1000));
  assert.deepEqual(push.payload, { aps: { alert: { title: "Ana", body: "see you at 8" }, sound: "default", "thread-id": "c1" }, conversation_id: "c1", message_id: "m1" });
  assert.deepEqual(decodeProtectedHeader(push.jwt), { alg: "ES256", kid: ids.keyId });
  assert.equal(decodeJwt(push.jwt).iss, ids.teamId);
});

test("the provider token is reused within its lifetime and renewed after it", async () => {
  let now = new Date("2030-01-01T00:00:00Z");
  const p = provider({ now: () => now, tokenTtlMs: 50 * 60_000 });
  const first = await p.providerToken();
  now = new Date(now.getTime() + 49 * 60_000);
  assert.equal(await p.providerToken(), first);
  now = new Date(now.getTime() + 2 * 60_000);
  assert.notEqual(await p.providerToken(), first);
  assert.throws(() => new ApnsProvider({ key: key.privateKey, ...ids, tokenTtlMs: 61 * 60_000 }), /within an hour/);
});

test("a token signed by another key is refused by the fake (InvalidProviderToken) and retried", async () => {
  const result = await provider({ key: pair().privateKey }).send({ token }, message);
  assert.deepEqual({ outcome: result.outcome, status: result.status, reason: result.reason }, { outcome: "retry", status: 403, reason: "InvalidProviderToken" });
});

test("an expired provider token is re-signed for the next attempt", async () => {
  let now = new Date(Date.now() - 5000);
  const p = provider({ now: () => now });
  const before = await p.providerToken();
  fake.script.set(token, [{ status: 403, reason: "ExpiredProviderToken" }]);
  const refused = await p.send({ token }, message);
  assert.equal(refused.outcome, "retry");
  // iat has a one-second resolution: a later clock makes the new token differ.
  now = new Date();
  const ok = await p.send({ token }, message);
  assert.equal(ok.outcome, "sent");
  assert.notEqual(fake.pushes.at(-1)!.jwt, before);
});

test("each APNs error is classified: dead tokens, throttling with Retry-After, server errors, refusals", async () => {
  const cases = [
    { answer: { status: 410, reason: "Unregistered" }, outcome: "dead_token" },
    { answer: { status: 400, reason: "BadDeviceToken" }, outcome: "dead_token" },
    { answer: { status: 429, reason: "TooManyRequests", retryAfter: "7" }, outcome: "retry", retryAfterMs: 7000 },
    { answer: { status: 500, reason: "InternalServerError" }, outcome: "retry" },
    { answer: { status: 503, reason: "ServiceUnavailable" }, outcome: "retry" },
    { answer: { status: 413, reason: "PayloadTooLarge" }, outcome: "failed" },
    { answer: { status: 400, reason: "BadCollapseId" }, outcome: "failed" },
  ] as const;
  const p = provider();
  for (const c of cases) {
    fake.script.set(token, [c.answer]);
    const result = await p.send({ token }, message);
    assert.equal(result.outcome, c.outcome, c.answer.reason);
    assert.equal(result.status, c.answer.status);
    assert.equal(result.reason, c.answer.reason);
    if ("retryAfterMs" in c) assert.equal(result.retryAfterMs, c.retryAfterMs);
  }
});

test("a wrong topic fails the push but does not kill the device (a config error, not a dead token)", async () => {
  const result = await provider({ topic: "com.example.other" }).send({ token }, message);
  assert.deepEqual([result.outcome, result.status, result.reason], ["failed", 400, "DeviceTokenNotForTopic"]);
});

test("a long message is cut to fit the 4 KB payload limit and accepted", async () => {
  const long = { ...message, body: "é\"".repeat(3000) };
  assert.ok(Buffer.byteLength(apnsPayload(long)) <= APNS_MAX_PAYLOAD);
  const result = await provider().send({ token }, long);
  assert.equal(result.outcome, "sent");
  const body = (fake.pushes.at(-1)!.payload.aps as { alert: { body: string } }).alert.body;
  assert.ok(body.endsWith("…"));
  assert.ok(body.length > 1000, "cut no more than needed");
});

test("an unreachable APNs is retryable, status 0", async () => {
  const result = await provider({ endpoint: "https://127.0.0.1:1" }).send({ token }, message);
  assert.equal(result.outcome, "retry");
  assert.equal(result.status, 0);
});
