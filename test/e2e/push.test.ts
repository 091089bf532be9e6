// Issue 6, "what it must show" 2 and 3, in the embedded runtime (`flotilla
// dev`: one process, PGlite, the real gateway and WebSockets), with the
// notifications service's providers pointed at the fake APNs, FCM and Web
// Push servers by its ordinary settings.
//
// 2. A recipient who is offline gets exactly one push per message on each
//    fake (APNs with the apns-* headers and a provider JWT the fake verified,
//    FCM after the service-account exchange, Web Push that decrypts as a
//    browser would); on reconnect the app catches up by seq with no duplicate;
//    a message acknowledged on the socket is not pushed.
// 3. Bad input through the gateway — oversized messages (REST and socket), an
//    unknown conversation, a non-member, malformed frames, a flood — gets a
//    problem+json or a documented close code; afterwards every stored message
//    is there with its seq and the service still serves.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { type Frame, TestClient } from "../../services/messaging/test/ws-client.ts";
import { decryptWebPush } from "../../services/notifications/test/fakes/fake-web-push.ts";
import { getJson, type Running, runFlotilla } from "../support/processes.ts";
import { APNS_IDS, browserSubscription, type PushWorld, startPushWorld } from "./push-world.ts";

// Long enough that an acknowledgement (socket → message_seen → notifications'
// inbox, a few hundred ms on a busy machine) lands before the push is due.
const GRACE_MS = 4000;

const dataDir = mkdtempSync(join(tmpdir(), "flotilla-push-"));
let world: PushWorld;
let dev: Running;
let base: string;

before(async () => {
  world = await startPushWorld(dataDir);
  dev = runFlotilla(["dev", "--port", "0", "--data-dir", join(dataDir, "dev")], world.env(GRACE_MS));
  base = await dev.waitFor(/gateway\s+(http:\/\/\S+)/, 120_000);
});

after(async () => {
  const code = await dev?.stop("SIGTERM");
  await world?.close();
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(code, 0, dev?.output().slice(-2000));
});

async function until<T>(read: () => Promise<T> | T, ok: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > end) throw new Error(`timed out: ${what}; last: ${JSON.stringify(value)}\n${dev.output().slice(-3000)}`);
    // Not faster: the user's read limit at the gateway is 600 a minute.
    await new Promise((r) => setTimeout(r, 150));
  }
}

const auth = (bearer: string) => ({ authorization: `Bearer ${bearer}`, "content-type": "application/json" });
const post = (path: string, bearer: string, body: unknown) => getJson(`${base}${path}`, { method: "POST", headers: auth(bearer), body: JSON.stringify(body) });
const get = (path: string, bearer: string) => getJson(`${base}${path}`, { headers: auth(bearer) });
const wsUrl = () => `${base.replace("http", "ws")}/v1/realtime`;

async function directConversation(from: string, other: string): Promise<string> {
  const r = await post("/v1/conversations", from, { kind: "CONVERSATION_KIND_DIRECT", memberIds: [other] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body as { conversation: { conversationId: string } }).conversation.conversationId;
}

async function send(from: string, conversationId: string, text: string, clientMessageId: string = randomUUID()): Promise<{ messageId: string; seq: number }> {
  const r = await post(`/v1/conversations/${conversationId}/messages`, from, { clientMessageId, text });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const m = (r.body as { message: { messageId: string; seq: string } }).message;
  return { messageId: m.messageId, seq: Number(m.seq) };
}

/** Every stored message of a conversation, paged by seq as an app catches up. */
async function stored(bearer: string, conversationId: string): Promise<{ seq: number; text: string }[]> {
  const all: { seq: number; text: string }[] = [];
  for (let after = 0; ; ) {
    const r = await get(`/v1/conversations/${conversationId}/messages?after_seq=${after}&page_size=50`, bearer);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const page = r.body as { messages?: { seq: string; text: string }[]; hasMore?: boolean };
    for (const m of page.messages ?? []) all.push({ seq: Number(m.seq), text: m.text });
    if (!page.hasMore) return all;
    after = all.at(-1)!.seq;
  }
}

type NotificationView = { messageId: string; state: string };
const notifications = async (bearer: string) => ((await get("/v1/notifications?limit=100", bearer)).body as { notifications?: NotificationView[] }).notifications ?? [];
const stateOf = async (bearer: string, messageId: string) => (await notifications(bearer)).find((n) => n.messageId === messageId)?.state;

const messageSeqs = (c: TestClient, conversationId: string) => c.seqs(conversationId);

test("offline: exactly one push per message on APNs, FCM and Web Push; reconnect catches up; an acknowledged message is not pushed", async () => {
  const [ana, ben] = await Promise.all([world.token("ana"), world.token("ben")]);
  const apnsToken = "ab".repeat(32);
  const fcmToken = "fcm-ben-0123456789abcdef";
  const browser = browserSubscription();
  const subscription = `${world.webOrigin}/push/ben`;
  for (const device of [
    { apnsToken, platform: "PLATFORM_IOS", appVersion: "2.1.0", locale: "pt-PT" },
    { fcmToken, platform: "PLATFORM_ANDROID" },
    { webPush: { endpoint: subscription, ...browser.keys }, platform: "PLATFORM_WEB" },
  ]) {
    const r = await post("/v1/devices", ben, device);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const vapid = ((await getJson(`${base}/v1/notifications/web-push-key`)).body as { publicKey: string }).publicKey;
  assert.match(vapid, /^[A-Za-z0-9_-]{87}$/);
  const conversationId = await directConversation(ana, "ben");

  // Ben's app has been online (resumed at 0, nothing yet), then goes to the background: offline.
  const first = new TestClient(wsUrl(), { token: ben });
  assert.deepEqual((await first.hello({ [conversationId]: 0 })).resumed, { [conversationId]: 0 });
  await first.close();

  const m1 = await send(ana, conversationId, "are you coming tonight?", "c-1");
  // A retry of the same send (mobile networks retry) is stored once, so it cannot push twice.
  assert.deepEqual(await send(ana, conversationId, "are you coming tonight?", "c-1"), m1);
  const m2 = await send(ana, conversationId, "bring the tickets");
  assert.deepEqual([m1.seq, m2.seq], [1, 2]);
  for (const m of [m1, m2]) await until(() => stateOf(ben, m.messageId), (s) => s === "NOTIFICATION_STATE_SENT", `${m.messageId} pushed`);

  // APNs: the headers Apple checks, and a provider token the fake verified (it records only accepted pushes).
  const apns = world.apns.pushes.filter((p) => p.token === apnsToken);
  assert.deepEqual(apns.map((p) => p.payload.message_id).sort(), [m1.messageId, m2.messageId].sort());
  const apnsKey = await importSPKI(world.apnsPublicKey, "ES256");
  for (const push of apns) {
    assert.equal(push.headers["apns-topic"], APNS_IDS.topic);
    assert.equal(push.headers["apns-push-type"], "alert");
    assert.equal(push.headers["apns-priority"], "10");
    assert.match(push.headers["apns-expiration"] ?? "", /^\d+$/);
    assert.equal(push.headers["apns-collapse-id"], push.payload.message_id);
    assert.deepEqual(decodeProtectedHeader(push.jwt), { alg: "ES256", kid: APNS_IDS.keyId });
    const { payload } = await jwtVerify(push.jwt, apnsKey, { issuer: APNS_IDS.teamId, algorithms: ["ES256"] });
    assert.ok(typeof payload.iat === "number" && Math.abs(payload.iat - Date.now() / 1000) < 3600);
  }
  const shown = apns.find((p) => p.payload.message_id === m1.messageId)!.payload.aps as { alert: { body: string } };
  assert.equal(shown.alert.body, "are you coming tonight?");
  assert.ok(world.apns.requests.every((r) => r.status === 200), JSON.stringify(world.apns.requests));

  // FCM: sent with an access token the fake issued for a verified service-account assertion.
  const fcm = world.fcm.messages.filter((m) => m.token === fcmToken);
  assert.deepEqual(fcm.map((m) => (m.message.data as Record<string, string>).message_id).sort(), [m1.messageId, m2.messageId].sort());
  assert.ok(world.fcm.exchanges >= 1);
  assert.equal(world.fcm.refusedAssertions, 0);

  // Web Push: VAPID-signed with the published key, and decrypted as the browser would.
  const web = world.web.received.filter((w) => w.id === "ben");
  assert.equal(web.length, 2);
  const decrypted = await Promise.all(web.map(async (w) => JSON.parse(await decryptWebPush(w.body, browser)) as { body: string; data: Record<string, string> }));
  assert.deepEqual(decrypted.map((d) => d.data.message_id).sort(), [m1.messageId, m2.messageId].sort());
  assert.ok(decrypted.some((d) => d.body === "bring the tickets"));
  assert.ok(web.every((w) => w.vapidKey === vapid));

  // Back in the foreground: the app resumes from seq 0 and gets what it missed, once.
  const back = new TestClient(wsUrl(), { token: ben });
  const ready = await back.hello({ [conversationId]: 0 });
  assert.deepEqual(ready.resumed, { [conversationId]: 2 });
  assert.deepEqual(messageSeqs(back, conversationId), [1, 2]);

  // Online now: a live message reaches the socket; the app acknowledges it: no push.
  const m3 = await send(ana, conversationId, "see you there");
  await back.waitFor((f: Frame) => f.type === "message" && (f.message as { seq: number }).seq === 3, "the live message");
  back.send({ type: "ack", conversation_id: conversationId, seq: 3 });
  await until(() => stateOf(ben, m3.messageId), (s) => s === "NOTIFICATION_STATE_SEEN", "m3 seen, not pushed");
  assert.deepEqual(messageSeqs(back, conversationId), [1, 2, 3]);
  await back.close();

  // Offline again: the next message is pushed — which also proves the scheduler ran past m3's due time.
  const m4 = await send(ana, conversationId, "running late");
  await until(() => stateOf(ben, m4.messageId), (s) => s === "NOTIFICATION_STATE_SENT", "m4 pushed");
  const pushed = [m1, m2, m4].map((m) => m.messageId).sort();
  assert.deepEqual(world.apns.pushes.filter((p) => p.token === apnsToken).map((p) => String(p.payload.message_id)).sort(), pushed, "APNs: one push per unseen message");
  assert.deepEqual(world.fcm.messages.filter((m) => m.token === fcmToken).map((m) => (m.message.data as Record<string, string>).message_id).sort(), pushed, "FCM: one per unseen message");
  assert.equal(world.web.received.filter((w) => w.id === "ben").length, 3, "Web Push: one per unseen message");
  assert.equal(await stateOf(ana, m1.messageId), undefined, "the sender is never notified");

  // The delivery log shows one accepted attempt per device.
  const log = (await notifications(ben)) as Array<NotificationView & { notificationId: string }>;
  const n1 = log.find((n) => n.messageId === m1.messageId)!;
  const deliveries = ((await get(`/v1/notifications/${n1.notificationId}/deliveries`, ben)).body as { deliveries: { provider: string; outcome: string }[] }).deliveries;
  assert.deepEqual(deliveries.map((d) => `${d.provider}:${d.outcome}`).sort(), ["apns:sent", "fcm:sent", "webpush:sent"]);

  // Catching up after the last offline stretch: only m4 is new.
  const again = new TestClient(wsUrl(), { token: ben });
  await again.hello({ [conversationId]: 3 });
  assert.deepEqual(messageSeqs(again, conversationId), [4]);
  await again.close();
});

test("bad input through the gateway: clear problems and close codes; nothing lost, the service still serves", async () => {
  const [cy, dee, eve] = await Promise.all([world.token("cy"), world.token("dee"), world.token("eve")]);
  const conversationId = await directConversation(cy, "dee");
  const texts: string[] = [];
  const say = async (from: string, text: string) => {
    texts.push(text);
    return send(from, conversationId, text);
  };
  await say(cy, "one");
  await say(dee, "two");
  const problem = (r: { status: number; type: string; body: unknown }, status: number, code: string) => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.match(r.type, /^application\/problem\+json/);
    assert.equal((r.body as { code?: string }).code, code, JSON.stringify(r.body));
  };

  // REST: a text over 8 KB names the field; a body over the gateway's limit is refused before any service.
  const tooLong = await post(`/v1/conversations/${conversationId}/messages`, cy, { clientMessageId: randomUUID(), text: "x".repeat(8193) });
  problem(tooLong, 400, "KIT_ERR_INVALID_ARGUMENT");
  assert.ok(JSON.stringify(tooLong.body).includes("text"), JSON.stringify(tooLong.body));
  const huge = await getJson(`${base}/v1/conversations/${conversationId}/messages`, { method: "POST", headers: auth(cy), body: JSON.stringify({ clientMessageId: randomUUID(), text: "x".repeat(2 * 1024 * 1024) }) });
  assert.equal(huge.status, 413, JSON.stringify(huge.body));
  assert.match(huge.type, /^application\/problem\+json/);
  problem(await getJson(`${base}/v1/conversations/${conversationId}/messages`, { method: "POST", headers: auth(cy), body: "{not json" }), 400, "GW_ERR_MALFORMED_JSON");
  // U+0000, which PostgreSQL's text cannot hold: a 400 naming the field, not a 500.
  const nul = await post(`/v1/conversations/${conversationId}/messages`, cy, { clientMessageId: randomUUID(), text: "a\u0000b" });
  problem(nul, 400, "KIT_ERR_INVALID_ARGUMENT");
  assert.ok(JSON.stringify(nul.body).includes('"text"'), JSON.stringify(nul.body));
  // Catch-up parameters out of range or not numbers.
  for (const query of ["after_seq=abc", "after_seq=-1", "after_seq=18446744073709551616", "page_size=100000", "page_size=1.5"]) {
    const r = await get(`/v1/conversations/${conversationId}/messages?${query}`, cy);
    assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
    assert.match(r.type, /^application\/problem\+json/, query);
  }
  // Unknown conversation; a non-member neither writes, reads nor marks read.
  problem(await post(`/v1/conversations/${randomUUID()}/messages`, cy, { clientMessageId: randomUUID(), text: "hello?" }), 404, "MESSAGING_ERR_CONVERSATION_NOT_FOUND");
  problem(await get(`/v1/conversations/${randomUUID()}/messages`, cy), 404, "MESSAGING_ERR_CONVERSATION_NOT_FOUND");
  problem(await post(`/v1/conversations/${conversationId}/messages`, eve, { clientMessageId: randomUUID(), text: "let me in" }), 403, "MESSAGING_ERR_NOT_A_MEMBER");
  problem(await get(`/v1/conversations/${conversationId}/messages`, eve), 403, "MESSAGING_ERR_NOT_A_MEMBER");
  problem(await post(`/v1/conversations/${conversationId}/read`, eve, { seq: "1" }), 403, "MESSAGING_ERR_NOT_A_MEMBER");
  problem(await post(`/v1/conversations/${conversationId}/messages`, "not-a-token", { clientMessageId: randomUUID(), text: "hi" }), 401, "KIT_ERR_TOKEN_INVALID");

  // Socket, as a non-member: resuming or typing in someone else's conversation is an error frame, and leaks nothing.
  const intruder = new TestClient(wsUrl(), { token: eve });
  await intruder.opened;
  intruder.send({ type: "hello", resume: { [conversationId]: 0 } });
  await intruder.waitFor((f) => f.type === "ready", "ready");
  intruder.send({ type: "typing", conversation_id: conversationId });
  intruder.send({ type: "receipt", conversation_id: conversationId, seq: 1 });
  await until(
    () => intruder.frames.filter((f) => f.type === "error" && f.code === "MESSAGING_ERR_NOT_A_MEMBER").length,
    (n) => n === 3,
    "three not-a-member error frames",
  );
  assert.deepEqual(intruder.seqs(conversationId), [], "no message of the conversation reached a non-member");
  assert.equal(intruder.closed, undefined, "an error frame keeps the socket");
  await intruder.close();

  // Malformed frames close with the documented codes; a wrong shape is an error frame.
  const closes: Array<[string, (c: TestClient) => void, number]> = [
    ["not JSON", (c) => c.ws.send("{not json"), 1007],
    ["binary", (c) => c.ws.send(Buffer.from([0xde, 0xad])), 1003],
    ["too big", (c) => c.ws.send(JSON.stringify({ type: "ping", id: "x".repeat(20_000) })), 1009],
  ];
  for (const [what, act, code] of closes) {
    const c = new TestClient(wsUrl(), { token: cy });
    await c.hello({ [conversationId]: 0 });
    act(c);
    assert.equal((await c.done).code, code, what);
  }
  // A hello listing more conversations than allowed (within the frame size) is refused by an error frame.
  const greedy = new TestClient(wsUrl(), { token: cy });
  await greedy.opened;
  greedy.send({ type: "hello", resume: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`c${i}`, 0])) });
  await greedy.waitFor((f) => f.type === "error" && f.code === "MESSAGING_ERR_BAD_FRAME", "too many conversations in hello");
  await greedy.hello({ [conversationId]: 2 });
  await greedy.close();
  const shapes = new TestClient(wsUrl(), { token: cy });
  await shapes.hello({ [conversationId]: 2 });
  for (const frame of [{ type: "shout" }, [1, 2], "text", { type: "ack", conversation_id: "a b", seq: 1 }, { type: "receipt", conversation_id: conversationId, seq: -1 }, { type: "hello" }]) {
    shapes.ws.send(JSON.stringify(frame));
  }
  await until(() => shapes.frames.filter((f) => f.type === "error" && f.code === "MESSAGING_ERR_BAD_FRAME").length, (n) => n === 6, "six bad-frame errors");
  assert.equal(shapes.closed, undefined);
  // A receipt beyond the newest message is refused, not stored.
  shapes.send({ type: "receipt", conversation_id: conversationId, seq: 99 });
  await shapes.waitFor((f) => f.type === "error" && f.code === "MESSAGING_ERR_SEQ_AHEAD", "seq ahead");

  // A flood of frames while messages are being sent: the flooder is closed (4029); every send is stored.
  const flooder = new TestClient(wsUrl(), { token: dee });
  await flooder.hello({ [conversationId]: 2 });
  const sending = (async () => {
    for (let i = 0; i < 10; i++) await say(i % 2 ? cy : dee, `during the flood ${i}`);
  })();
  for (let i = 0; i < 500 && flooder.closed === undefined; i++) flooder.send({ type: "typing", conversation_id: conversationId });
  assert.equal((await flooder.done).code, 4029);
  await sending;

  // Afterwards: every accepted message is stored once, seqs 1..n with no gap, and the service still serves.
  await say(cy, "still here");
  const all = await stored(dee, conversationId);
  assert.deepEqual(
    all.map((m) => m.seq),
    texts.map((_, i) => i + 1),
  );
  assert.deepEqual(
    all.map((m) => m.text),
    texts,
  );
  await until(() => shapes.seqs(conversationId).at(-1), (s) => s === texts.length, "the well-behaved socket got every message live");
  assert.deepEqual(
    shapes.seqs(conversationId),
    texts.slice(2).map((_, i) => i + 3),
  );
  await shapes.close();
  const fresh = new TestClient(wsUrl(), { token: dee });
  await fresh.hello({ [conversationId]: 0 });
  assert.deepEqual(
    fresh.seqs(conversationId),
    texts.map((_, i) => i + 1),
  );
  await fresh.close();
  assert.equal((await getJson(`${base}/readyz`)).status, 200);
});
