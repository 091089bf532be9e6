// Realtime over WebSocket on two replicas of the service (one database, one
// broadcast hub between them): live delivery across replicas, resume without
// gap or duplicate, heartbeats, backpressure, rate limits, bad frames.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { Registry } from "prom-client";
import { messagingEventsV1, messagingV1 } from "@flotilla/contracts";
import { decodeEvent, MemoryBroadcast, MemoryBroadcastHub, MemoryBus, PgliteProvider } from "@flotilla/kit/internal";
import { REALTIME_TOPIC } from "../src/realtime/hub.ts";
import { createIssuer, eventually, type Hosted, hostMessaging, type Issuer } from "./support.ts";
import { type Frame, TestClient } from "./ws-client.ts";

let issuer: Issuer;
const provider = new PgliteProvider();
const bus = new MemoryBus();
const hub = new MemoryBroadcastHub();
const replicas: Array<{ svc: Hosted; server: Server; url: string; metrics: Registry }> = [];
const tokens: Record<string, string> = {};

before(async () => {
  issuer = await createIssuer();
  const config = { FLOTILLA_REALTIME_PRESENCE_LEASE_MS: "2000", FLOTILLA_REALTIME_PING_MS: "150", FLOTILLA_REALTIME_MAX_BUFFERED_BYTES: "65536", FLOTILLA_REALTIME_FRAME_BURST: "40", FLOTILLA_REALTIME_FRAMES_PER_SEC: "5" };
  for (let i = 0; i < 2; i++) {
    const metrics = new Registry();
    const svc = await hostMessaging({ issuer, provider, bus, broadcast: new MemoryBroadcast({ hub }), config, metrics });
    const server = createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (req, socket, head) => svc.hosted.upgrade!(req, socket, head));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    replicas.push({ svc, server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/realtime`, metrics });
  }
  for (const u of ["alice", "bob", "carol", "dan", "eve", "fay", "gus", "hal", "ivy", "jay", "kit", "lou"]) tokens[u] = await issuer.token(u);
});

after(async () => {
  for (const r of replicas) {
    r.server.closeAllConnections();
    r.server.close();
    await r.svc.stop();
  }
  await bus.close();
  await provider.close();
});

const A = () => replicas[0]!;
const B = () => replicas[1]!;

async function direct(a: string, b: string): Promise<string> {
  const out = (await A().svc.call("createConversation", { kind: messagingV1.ConversationKind.DIRECT, memberIds: [b] }, tokens[a])) as messagingV1.CreateConversationResponse;
  return out.conversation!.conversationId;
}

async function send(replica: Hosted, from: string, conversationId: string, text: string) {
  return ((await replica.call("sendMessage", { conversationId, clientMessageId: crypto.randomUUID(), text }, tokens[from])) as messagingV1.SendMessageResponse).message!;
}

const isMessage = (seq: number) => (f: Frame) => f.type === "message" && (f.message as { seq: number }).seq === seq;

test("a message sent on replica A reaches its recipient's socket on replica B", async () => {
  const conv = await direct("alice", "bob");
  const bob = new TestClient(B().url, { token: tokens.bob });
  const alice = new TestClient(A().url, { token: tokens.alice });
  await Promise.all([bob.hello(), alice.hello()]);
  await send(A().svc, "alice", conv, "hello bob");
  const got = await bob.waitFor(isMessage(1), "message 1 on bob");
  assert.equal((got.message as { text: string }).text, "hello bob");
  assert.equal((got.message as { sender_id: string }).sender_id, "alice");
  await alice.waitFor(isMessage(1), "alice's own message on her socket");
  assert.equal(bob.binaryFrames + alice.binaryFrames, 0, "frames forwarded from the broadcast go out as text");
  await Promise.all([bob.close(), alice.close()]);
});

test("resume sends exactly what was missed, then live messages, with no gap and no duplicate under concurrent sends", async () => {
  const conv = await direct("carol", "dan");
  for (let i = 1; i <= 5; i++) await send(A().svc, "carol", conv, `before ${i}`);
  const dan = new TestClient(B().url, { token: tokens.dan });
  await dan.opened;
  // Sends race the resume: some commit before the catch-up read, some after.
  const racing = (async () => {
    for (let i = 6; i <= 25; i++) await send(i % 2 ? A().svc : B().svc, "carol", conv, `during ${i}`);
  })();
  dan.send({ type: "hello", resume: { [conv]: 2 } });
  await racing;
  await dan.waitFor(isMessage(25), "message 25");
  assert.deepEqual(dan.seqs(conv), Array.from({ length: 23 }, (_, i) => i + 3));
  const ready = dan.frames.find((f) => f.type === "ready")!;
  assert.ok((ready.resumed as Record<string, number>)[conv]! >= 5);
  await dan.close();
});

test("a lost fan-out hint is filled from the database on the next message (no gap)", async () => {
  const conv = await direct("eve", "fay");
  const fay = new TestClient(B().url, { token: tokens.fay });
  await fay.hello({ [conv]: 0 });
  await send(A().svc, "eve", conv, "one");
  await fay.waitFor(isMessage(1), "message 1");
  // Seq 2 is stored but its hint never goes out (as when NATS drops it).
  const handlers = hub.topics.get(REALTIME_TOPIC)!;
  const saved = [...handlers];
  handlers.clear();
  await send(A().svc, "eve", conv, "two");
  for (const h of saved) handlers.add(h);
  await send(A().svc, "eve", conv, "three");
  await fay.waitFor(isMessage(3), "message 3");
  assert.deepEqual(fay.seqs(conv), [1, 2, 3]);
  await fay.close();
});

test("each replica holds one broadcast subscription, whatever the number of users connected to it", async () => {
  const conv = await direct("hal", "dan");
  const hal = new TestClient(A().url, { token: tokens.hal });
  const dan = new TestClient(B().url, { token: tokens.dan });
  await hal.hello({ [conv]: 0 });
  await dan.hello({ [conv]: 0 });
  assert.equal(hub.topics.get(REALTIME_TOPIC)?.size, 2, "one subscription per replica");
  const dan2 = new TestClient(B().url, { token: tokens.dan });
  const hal2 = new TestClient(A().url, { token: tokens.gus });
  await dan2.hello({ [conv]: 0 });
  await hal2.hello({});
  assert.equal(hub.topics.get(REALTIME_TOPIC)?.size, 2, "more users and sockets add none");
  assert.deepEqual([...hub.topics.keys()], [REALTIME_TOPIC]);
  await send(A().svc, "hal", conv, "hi");
  await dan.waitFor(isMessage(1), "message 1");
  await dan2.waitFor(isMessage(1), "message 1 on dan's second socket");
  await hal.waitFor(isMessage(1), "the sender's own copy");
  await dan2.close();
  await hal2.close();
  await hal.close();
  await dan.close();
});

test("a replica delivers a broadcast only to the recipients it names (per-user isolation)", async () => {
  const conv = await direct("alice", "gus");
  const alice = new TestClient(B().url, { token: tokens.alice });
  const gus = new TestClient(B().url, { token: tokens.gus });
  await alice.hello({});
  await gus.hello({ [conv]: 0 });
  const publisher = new MemoryBroadcast({ hub });
  const frame = (userId: string) => JSON.stringify({ type: "presence", user_id: userId, online: true });
  await publisher.publish(REALTIME_TOPIC, new TextEncoder().encode(`["gus"]\n${frame("for-gus")}`));
  // Unreadable payloads are ignored, not delivered to anyone, and do not stop the next ones.
  await publisher.publish(REALTIME_TOPIC, new TextEncoder().encode(frame("no-recipient-line")));
  await publisher.publish(REALTIME_TOPIC, new TextEncoder().encode(`{"gus":1}\n${frame("recipients-not-a-list")}`));
  await publisher.publish(REALTIME_TOPIC, new TextEncoder().encode(`["alice"]\n${frame("for-alice")}`));
  await alice.waitFor((f) => f.type === "presence" && f.user_id === "for-alice", "alice's frame");
  await send(A().svc, "alice", conv, "after");
  await gus.waitFor(isMessage(1), "message 1");
  const presences = (c: TestClient) => c.frames.filter((f) => f.type === "presence").map((f) => f.user_id);
  assert.ok(presences(gus).includes("for-gus"));
  assert.ok(!presences(gus).includes("for-alice"));
  assert.ok(!presences(alice).includes("for-gus"));
  for (const c of [alice, gus]) for (const bad of ["no-recipient-line", "recipients-not-a-list"]) assert.ok(!presences(c).includes(bad));
  await publisher.close();
  await alice.close();
  await gus.close();
});

test("a resume position beyond the newest message is taken as the newest: later messages still arrive", async () => {
  const conv = await direct("gus", "carol");
  await send(A().svc, "carol", conv, "one");
  const gus = new TestClient(B().url, { token: tokens.gus });
  const ready = await gus.hello({ [conv]: 99 });
  assert.equal((ready.resumed as Record<string, number>)[conv], 1);
  await send(A().svc, "carol", conv, "two");
  await gus.waitFor(isMessage(2), "message 2");
  assert.deepEqual(gus.seqs(conv), [2]);
  await gus.close();
});

test("an acknowledged message from someone else leaves messaging.message_seen.v1 (via socket)", async () => {
  const conv = await direct("alice", "carol");
  const carol = new TestClient(A().url, { token: tokens.carol });
  await carol.hello({ [conv]: 0 });
  const m = await send(B().svc, "alice", conv, "seen?");
  await carol.waitFor(isMessage(1), "message 1");
  carol.send({ type: "ack", conversation_id: conv, seq: 1 });
  const seen = await eventually(
    () => A().svc.events.concat(B().svc.events).filter((e) => e.type === "messaging.message_seen.v1" && e.subject === conv),
    (l) => l.length > 0,
    "message_seen",
  );
  const data = decodeEvent(messagingEventsV1.MessageSeenSchema, seen[0]!);
  assert.equal(data.messageId, m.messageId);
  assert.equal(data.userId, "carol");
  assert.equal(data.via, messagingEventsV1.SeenVia.SOCKET);
  await carol.close();
});

test("an ack marks seen each message sent on the socket from someone else, once, and nothing beyond what was sent", async () => {
  const conv = await direct("alice", "ivy");
  // Both replicas publish on one bus: its list holds every event once.
  const seenIds = () =>
    A()
      .svc.events.filter((e) => e.type === "messaging.message_seen.v1" && e.subject === conv)
      .map((e) => decodeEvent(messagingEventsV1.MessageSeenSchema, e).messageId);
  // Two messages while ivy is away: the resume sends them from the database.
  const m1 = await send(A().svc, "alice", conv, "one");
  const m2 = await send(A().svc, "alice", conv, "two");
  const ivy = new TestClient(B().url, { token: tokens.ivy });
  await ivy.hello({ [conv]: 0 });
  await ivy.waitFor(isMessage(2), "message 2 (catch-up)");
  const own = await send(B().svc, "ivy", conv, "mine");
  await ivy.waitFor(isMessage(3), "own message 3");
  // Beyond what was sent (3): only 1 and 2, from alice; ivy's own message is not "seen" by ivy.
  ivy.send({ type: "ack", conversation_id: conv, seq: 9 });
  await eventually(seenIds, (l) => l.length >= 2, "message_seen for 1 and 2");
  const m4 = await send(A().svc, "alice", conv, "four");
  await ivy.waitFor(isMessage(4), "message 4");
  ivy.send({ type: "ack", conversation_id: conv, seq: 3 }); // again: nothing new
  ivy.send({ type: "ack", conversation_id: conv, seq: 4 });
  await eventually(seenIds, (l) => l.length >= 3, "message_seen for 4");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(seenIds().sort(), [m1.messageId, m2.messageId, m4.messageId].sort());
  assert.ok(!seenIds().includes(own.messageId));
  await ivy.close();
});

test("typing and read receipts on the socket reach the other member", async () => {
  const conv = await direct("bob", "dan");
  const bob = new TestClient(A().url, { token: tokens.bob });
  const dan = new TestClient(B().url, { token: tokens.dan });
  await Promise.all([bob.hello(), dan.hello()]);
  await send(A().svc, "bob", conv, "are you there?");
  await dan.waitFor(isMessage(1), "message");
  dan.send({ type: "typing", conversation_id: conv });
  await bob.waitFor((f) => f.type === "typing" && f.user_id === "dan", "typing from dan");
  dan.send({ type: "receipt", conversation_id: conv, seq: 1 });
  await bob.waitFor((f) => f.type === "receipt" && f.user_id === "dan" && f.read_seq === 1, "receipt from dan");
  dan.send({ type: "typing", conversation_id: "not-mine" });
  await dan.waitFor((f) => f.type === "error" && f.code === "MESSAGING_ERR_CONVERSATION_NOT_FOUND", "error for an unknown conversation");
  await Promise.all([bob.close(), dan.close()]);
});

test("presence: a contact's first socket is announced online, its last one offline", async () => {
  await direct("gus", "hal");
  const gus = new TestClient(A().url, { token: tokens.gus });
  await gus.hello();
  const hal = new TestClient(B().url, { token: tokens.hal });
  await hal.hello();
  await gus.waitFor((f) => f.type === "presence" && f.user_id === "hal" && f.online === true, "hal online");
  await hal.close();
  await gus.waitFor((f) => f.type === "presence" && f.user_id === "hal" && f.online === false, "hal offline");
  await gus.close();
});

test("presence across replicas: a user who closes one socket but keeps another elsewhere stays online", async () => {
  await direct("fay", "eve");
  const fay = new TestClient(A().url, { token: tokens.fay });
  await fay.hello();
  const eveOnA = new TestClient(A().url, { token: tokens.eve });
  await eveOnA.hello();
  await fay.waitFor((f) => f.type === "presence" && f.user_id === "eve" && f.online === true, "eve online");
  const eveOnB = new TestClient(B().url, { token: tokens.eve });
  await eveOnB.hello();
  // B announces her first socket there too (a repeat for fay), up to a batch later: wait for it.
  await fay.waitFor(() => fay.frames.filter((f) => f.type === "presence" && f.user_id === "eve" && f.online === true).length >= 2, "eve online from B too");
  const before = fay.frames.length;
  await eveOnB.close();
  // B drops its row of eve, finds her on A, and says nothing.
  await eventually(
    () => A().svc.hosted.db.query("SELECT replica_id FROM presence WHERE user_id = 'eve'"),
    (rows) => rows.length === 1,
    "eve's row on B deleted",
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const eveSince = (from: number) => fay.frames.slice(from).filter((f) => f.type === "presence" && f.user_id === "eve").map((f) => f.online);
  assert.deepEqual(eveSince(before), [], "no offline while she has a socket on A");
  await eveOnA.close();
  await fay.waitFor(() => eveSince(before).join() === "false", "eve offline once her last socket closed");
  await fay.close();
});

test("presence survives the replica that announced it: ready lists the contacts online; a replica killed outright has its users announced offline when its lease ends, but not those connected elsewhere", async () => {
  await direct("lou", "jay");
  await direct("lou", "kit");
  const kit = new TestClient(B().url, { token: tokens.kit });
  await kit.hello();
  // What a replica killed with kill -9 leaves: rows of jay and kit under a lease it will not renew.
  const db = A().svc.hosted.db;
  await db.query("INSERT INTO realtime_replicas (replica_id, lease_until) VALUES ('killed', now() + interval '1 second')");
  await db.query("INSERT INTO presence (user_id, replica_id) VALUES ('jay', 'killed'), ('kit', 'killed')");
  await eventually(
    () => db.query("SELECT 1 FROM presence WHERE user_id = 'kit' AND replica_id <> 'killed'"),
    (rows) => rows.length === 1,
    "kit's row on B",
  );
  const lou = new TestClient(A().url, { token: tokens.lou });
  await lou.hello();
  const ready = lou.frames.find((f) => f.type === "ready")!;
  assert.deepEqual(ready.online, ["jay", "kit"]);
  await lou.waitFor((f) => f.type === "presence" && f.user_id === "jay" && f.online === false, "jay offline after the lease");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(!lou.frames.some((f) => f.type === "presence" && f.user_id === "kit" && f.online === false), "kit is still on B");
  assert.deepEqual(await db.query("SELECT 1 FROM realtime_replicas WHERE replica_id = 'killed'"), []);
  const again = new TestClient(A().url, { token: tokens.lou });
  await again.hello();
  assert.deepEqual(again.frames.find((f) => f.type === "ready")!.online, ["kit"]);
  await Promise.all([kit.close(), lou.close(), again.close()]);
});

test("the handshake needs a valid token: header, subprotocol or query", async () => {
  await assert.rejects(new TestClient(A().url).opened, (e) => (e as { status?: number }).status === 401);
  const other = await createIssuer();
  await assert.rejects(new TestClient(A().url, { token: await other.token("alice") }).opened, (e) => (e as { status?: number }).status === 401);
  const viaProtocol = new TestClient(A().url, { protocols: ["bearer", tokens.alice!] });
  await viaProtocol.opened;
  assert.equal(viaProtocol.ws.protocol, "bearer");
  await viaProtocol.close();
  const viaQuery = new TestClient(`${A().url}?access_token=${tokens.alice}`);
  await viaQuery.hello();
  await viaQuery.close();
});

test("bad frames: not JSON → 1007, binary → 1003, too big → 1009, no hello first → 4002, unknown type → error frame", async () => {
  const cases: Array<[(c: TestClient) => void, number]> = [
    [(c) => c.ws.send("{not json"), 1007],
    [(c) => c.ws.send(Buffer.from([1, 2, 3])), 1003],
    [(c) => c.ws.send(JSON.stringify({ type: "hello", pad: "x".repeat(20_000) })), 1009],
    [(c) => c.send({ type: "typing", conversation_id: "abc" }), 4002],
  ];
  for (const [act, code] of cases) {
    const c = new TestClient(A().url, { token: tokens.alice });
    await c.opened;
    act(c);
    assert.equal((await c.done).code, code);
  }
  const c = new TestClient(A().url, { token: tokens.alice });
  await c.hello();
  c.send({ type: "shout" });
  c.send({ type: "ack", conversation_id: "a b", seq: -1 });
  await c.waitFor((f) => f.type === "error" && String(f.message).includes("unknown frame type"), "unknown type error");
  await c.waitFor((f) => f.type === "error" && String(f.message).includes("conversation_id"), "bad field error");
  c.send({ type: "ping", id: "p1" });
  await c.waitFor((f) => f.type === "pong" && f.id === "p1", "pong");
  await c.close();
});

test("a flood of frames closes the connection with 4029", async () => {
  const c = new TestClient(A().url, { token: tokens.alice });
  await c.hello();
  for (let i = 0; i < 200; i++) c.send({ type: "ping", id: String(i) });
  assert.equal((await c.done).code, 4029);
});

test("a peer that stops answering pings is cut off", async () => {
  const port = new URL(A().url).port;
  const socket = connect(Number(port), "127.0.0.1");
  socket.write(
    `GET /v1/realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${tokens.bob}\r\n\r\n`,
  );
  let head = "";
  socket.on("data", (d) => {
    head += d.toString("latin1");
  });
  // Never answers a ping: the server terminates the TCP connection itself.
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  assert.match(head, /^HTTP\/1.1 101/);
  assert.ok(head.includes("\x89"), "the server pinged before cutting off");
});

test("a client that does not read is closed as a slow consumer (4008), not buffered for ever", async () => {
  // A replica of its own whose heartbeat cannot be what closes the socket.
  const svc = await hostMessaging({ issuer, provider, bus, broadcast: new MemoryBroadcast({ hub }), config: { FLOTILLA_REALTIME_PING_MS: "600000", FLOTILLA_REALTIME_MAX_BUFFERED_BYTES: "65536" } });
  const server = createServer();
  let serverSide: import("node:stream").Duplex | undefined;
  server.on("upgrade", (req, s, head) => {
    serverSide = s;
    svc.hosted.upgrade!(req, s, head);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
  socket.write(
    `GET /v1/realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${tokens.eve}\r\n\r\n`,
  );
  let seen = "";
  const onData = (d: Buffer) => {
    seen += d.toString("latin1");
  };
  socket.on("data", onData);
  await eventually(() => seen, (s) => s.startsWith("HTTP/1.1 101"), "the handshake");
  // hello, masked as a client must; wait for ready, then stop reading.
  const payload = Buffer.from(JSON.stringify({ type: "hello" }));
  const mask = Buffer.from([1, 2, 3, 4]);
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]));
  await eventually(() => seen, (s) => s.includes('"ready"'), "ready");
  socket.off("data", onData);
  socket.pause();
  const publisher = new MemoryBroadcast({ hub });
  const big = new TextEncoder().encode(`["eve"]\n${JSON.stringify({ type: "presence", user_id: "x".repeat(64 * 1024), online: true })}`);
  let sent = 0;
  const until = Date.now() + 30_000;
  while (!serverSide!.destroyed && Date.now() < until) {
    await publisher.publish(REALTIME_TOPIC, big);
    sent++;
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(serverSide!.destroyed, `the server still holds the socket after ${sent} large frames`);
  socket.destroy();
  await publisher.close();
  server.close();
  await svc.stop();
});

test("metrics: the sockets a replica holds, and why the server closed the ones it closed", async () => {
  const scrape = async (name: string) => {
    const line = (await A().metrics.metrics()).split("\n").find((l) => l.startsWith(name));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const before = await scrape("flotilla_messaging_realtime_connections ");
  const clients = [new TestClient(A().url, { token: tokens.ivy }), new TestClient(A().url, { token: tokens.jay })];
  await Promise.all(clients.map((c) => c.hello()));
  assert.equal(await scrape("flotilla_messaging_realtime_connections "), before + 2);
  // The flood (4029) and the peer that stopped answering pings (4000) above were on replica A.
  assert.ok((await scrape('flotilla_messaging_realtime_server_closes_total{code="4029"}')) >= 1);
  assert.ok((await scrape('flotilla_messaging_realtime_server_closes_total{code="4000"}')) >= 1);
  assert.ok((await scrape('flotilla_messaging_send_member_lists_total{list="read"}')) >= 1, "sends on A read their member lists");
  await Promise.all(clients.map((c) => c.close()));
  await eventually(() => scrape("flotilla_messaging_realtime_connections "), (n) => n === before, "the gauge back down");
});
