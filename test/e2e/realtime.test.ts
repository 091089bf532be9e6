// Issue 6, "what it must show" 1: `flotilla up` with two messaging replicas
// (real PostgreSQL and NATS, mTLS between processes, the gateway in front),
// two users chatting over WebSockets through the gateway. A replica a user is
// connected to is killed with SIGKILL mid-conversation; the user's app
// reconnects (through the gateway, to a live replica) with its last seq and
// gets exactly what it missed: every message once, in order, none lost.
//
// Tokens come from a test issuer (an external IdP serving its JWKS), as
// identity would sign them; gateway and service both verify them.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Instance, NatsRegistry, type Watch } from "@flotilla/kit/internal";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { WebSocket } from "ws";
import { freePort, natsUrl, postgresUrl, scratchNats, uniqueName } from "../support/engines.ts";
import { type Running, runFlotilla } from "../support/processes.ts";
import { dropPrefix } from "../support/scratch-postgres.ts";

const prefix = `${uniqueName("ft_rt_")}_`;
const nats = scratchNats("ft_rt");
const bucket = nats.bucket;
const dataDir = mkdtempSync(join(tmpdir(), "flotilla-rt-"));
let up: Running;
let dev: Running;
let base: string;
let idp: Server;
let issuer: string;
let signingKey: CryptoKey;
let registry: NatsRegistry;
let watch: Watch;

async function token(sub: string): Promise<string> {
  return new SignJWT({ client_id: "e2e", scope: "", roles: [], permissions: [] })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "e2e" })
    .setIssuer(issuer)
    .setAudience("flotilla")
    .setSubject(sub)
    .setIssuedAt()
    .setNotBefore("0s")
    .setExpirationTime("10m")
    .setJti(randomUUID())
    .sign(signingKey);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}\n${up?.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A chat app's socket: reconnects after any close (through the gateway, so to
 * whichever replica it picks) and resumes from the last seq it holds. Every
 * message frame is recorded as received, duplicates included.
 */
class App {
  readonly received: number[] = [];
  reconnects = 0;
  #ws: WebSocket | undefined;
  #stopped = false;
  #last = 0;
  #ready = false;

  readonly user: string;
  readonly bearer: string;
  readonly conversationId: string;

  constructor(user: string, bearer: string, conversationId: string) {
    this.user = user;
    this.bearer = bearer;
    this.conversationId = conversationId;
  }

  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    this.#ready = false;
    // Half the apps pass the token as the subprotocol pair, as a browser must.
    const ws =
      this.user === "alice"
        ? new WebSocket(`${base.replace("http", "ws")}/v1/realtime`, ["bearer", this.bearer])
        : new WebSocket(`${base.replace("http", "ws")}/v1/realtime`, { headers: { authorization: `Bearer ${this.bearer}` } });
    this.#ws = ws;
    ws.on("open", () => ws.send(JSON.stringify({ type: "hello", resume: { [this.conversationId]: this.#last } })));
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { type: string; message?: { conversation_id: string; seq: number } };
      if (frame.type === "ready") this.#ready = true;
      if (frame.type === "message" && frame.message?.conversation_id === this.conversationId) {
        this.received.push(frame.message.seq);
        this.#last = Math.max(this.#last, frame.message.seq);
        ws.send(JSON.stringify({ type: "ack", conversation_id: this.conversationId, seq: this.#last }));
      }
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      if (this.#stopped) return;
      this.reconnects++;
      setTimeout(() => this.start(), 200);
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }

  /** Cuts the TCP connection without a closing handshake, as a lost network does; the app reconnects. */
  drop(): void {
    this.#ws?.terminate();
  }
}

/** Sends through the gateway's REST route, retrying with the same client_message_id (stored once). */
async function send(bearer: string, conversationId: string, text: string): Promise<number> {
  const clientMessageId = randomUUID();
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${base}/v1/conversations/${conversationId}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        body: JSON.stringify({ clientMessageId, text }),
      });
      const body = (await res.json()) as { message?: { seq: string } };
      if (res.ok) return Number(body.message!.seq);
      if (res.status < 500 && res.status !== 429) assert.fail(`send refused: ${res.status} ${JSON.stringify(body)}`);
    } catch (error) {
      if (attempt > 50) throw error;
    }
    if (attempt > 50) assert.fail(`send of "${text}" kept failing`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  const keys = await generateKeyPair("ES256");
  signingKey = keys.privateKey;
  const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: "e2e", alg: "ES256", use: "sig" };
  idp = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
});

after(() => {
  idp?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Both runtimes trust the test issuer: its URL is the `iss`, its JWKS the key set. */
const authEnv = () => ({
  FLOTILLA_PUBLIC_URL: issuer,
  FLOTILLA_AUTH_JWKS_URL: `${issuer}/.well-known/jwks.json`,
  FLOTILLA_GATEWAY_JWKS_URL: `${issuer}/.well-known/jwks.json`,
});

async function directConversation(aliceToken: string): Promise<string> {
  const created = await fetch(`${base}/v1/conversations`, {
    method: "POST",
    headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" },
    body: JSON.stringify({ kind: "CONVERSATION_KIND_DIRECT", memberIds: ["bob"] }),
  });
  const body = (await created.json()) as { conversation?: { conversationId: string } };
  assert.equal(created.status, 200, JSON.stringify(body));
  return body.conversation!.conversationId;
}

describe("distributed: flotilla up, two messaging replicas", () => {
  before(async () => {
    const port = await freePort();
    up = runFlotilla(["up", "--replicas", "messaging=2", "--gateway-port", String(port), "--database-url", postgresUrl, "--nats-url", natsUrl], {
      FLOTILLA_DATABASE_PREFIX: prefix,
      ...nats.env,
      FLOTILLA_DATA_DIR: join(dataDir, "up"),
      // Short, so that a killed replica's users are announced offline within the test.
      FLOTILLA_REALTIME_PRESENCE_LEASE_MS: "3000",
      ...authEnv(),
    });
    base = await up.waitFor(/gateway\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000);
    registry = await NatsRegistry.connect({ servers: natsUrl, bucket });
    watch = await registry.watch("messaging");
    await until(() => watch.instances().length === 2, 30_000, "two messaging instances registered");
  });

  after(async () => {
    watch?.stop();
    await registry?.close();
    await up?.stop("SIGTERM");
    await nats.remove();
    await dropPrefix(prefix);
  });

  test("kill -9 of the replica a user is on: the app reconnects and resumes with no lost and no duplicated message", async (t) => {
    const [aliceToken, bobToken] = await Promise.all([token("alice"), token("bob")]);
    const conversationId = await directConversation(aliceToken);

    const alice = new App("alice", aliceToken, conversationId);
    const bob = new App("bob", bobToken, conversationId);
    alice.start();
    bob.start();
    await until(() => alice.ready && bob.ready, 20_000, "both apps connected and resumed");

    let sent = 0;
    const chat = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const from = sent % 2 === 0 ? [aliceToken, "alice"] : [bobToken, "bob"];
        await send(from[0]!, conversationId, `message ${sent + 1} from ${from[1]}`);
        sent++;
      }
    };
    await chat(10);

    // Which replica holds alice's socket is the gateway's choice: kill one; if
    // alice's socket survives, she was on the other, which is killed next (once
    // the first is back). Messages keep flowing throughout.
    const killed: Instance[] = [];
    const [first, second] = watch.instances();
    for (const round of [0, 1]) {
      const before = alice.reconnects;
      // Round 1 kills the replica that survived round 0 (alice's), not its restarted sibling.
      const victim = round === 0 ? first! : second!;
      killed.push(victim);
      process.kill(Number(victim.labels.pid), "SIGKILL");
      const chatting = chat(10);
      // Once the registry has dropped the dead replica (its TTL, seconds), its sockets are long closed.
      await until(() => !watch.instances().some((i) => i.id === victim.id), 30_000, "the registry drops the killed replica");
      await chatting;
      if (alice.reconnects > before) break;
      assert.equal(round, 0, "alice's socket survived the kill of both replicas");
      await until(() => watch.instances().filter((i) => !killed.some((k) => k.id === i.id)).length >= 2, 60_000, "the killed replica restarted");
    }
    await chat(10);

    const expected = Array.from({ length: sent }, (_, i) => i + 1);
    await until(() => alice.received.at(-1) === sent && bob.received.at(-1) === sent, 30_000, `both apps received up to seq ${sent}`);
    assert.ok(alice.reconnects >= 1, "alice's app reconnected after the kill");
    assert.deepEqual(alice.received, expected, "alice: every message exactly once, in order");
    assert.deepEqual(bob.received, expected, "bob: every message exactly once, in order");
    t.diagnostic(`${sent} messages; replicas killed: ${killed.length}; reconnects: alice ${alice.reconnects}, bob ${bob.reconnects}`);
    alice.stop();
    bob.stop();
  });

  test("kill -9 of a replica: its users who do not come back are offline for their contacts once its lease ends; the others stay online", async () => {
    await until(() => watch.instances().length >= 2, 60_000, "two messaging replicas live");
    const wendyToken = await token("wendy");
    const sleepers = Array.from({ length: 10 }, (_, i) => `sleeper-${i}-${randomUUID().slice(0, 8)}`);
    for (const user of sleepers) {
      const res = await fetch(`${base}/v1/conversations`, {
        method: "POST",
        headers: { authorization: `Bearer ${wendyToken}`, "content-type": "application/json" },
        body: JSON.stringify({ kind: "CONVERSATION_KIND_DIRECT", memberIds: [user] }),
      });
      assert.equal(res.status, 200);
    }
    // Apps that never reconnect: the gateway spreads them over both replicas.
    const sockets = new Map<string, WebSocket>();
    await Promise.all(
      sleepers.map(async (user) => {
        const ws = new WebSocket(`${base.replace("http", "ws")}/v1/realtime`, { headers: { authorization: `Bearer ${await token(user)}` } });
        ws.on("error", () => {});
        await new Promise<void>((resolve, reject) => {
          ws.on("open", () => ws.send(JSON.stringify({ type: "hello", resume: {} })));
          ws.on("message", (data) => JSON.parse(String(data)).type === "ready" && resolve());
          ws.on("close", () => reject(new Error(`${user}'s socket closed before ready`)));
        });
        sockets.set(user, ws);
      }),
    );
    /** The contacts wendy's app is told are online when it connects. */
    const snapshot = async (): Promise<string[]> => {
      const ws = new WebSocket(`${base.replace("http", "ws")}/v1/realtime`, { headers: { authorization: `Bearer ${wendyToken}` } });
      ws.on("error", () => {});
      try {
        return await new Promise<string[]>((resolve, reject) => {
          ws.on("open", () => ws.send(JSON.stringify({ type: "hello", resume: {} })));
          ws.on("message", (data) => {
            const frame = JSON.parse(String(data)) as { type: string; online?: string[] };
            if (frame.type === "ready") resolve([...(frame.online ?? [])].sort());
          });
          ws.on("close", () => reject(new Error("wendy's socket closed before ready")));
        });
      } finally {
        ws.close();
      }
    };
    await until(async () => (await snapshot()).join() === [...sleepers].sort().join(), 10_000, "every sleeper online");

    const open = () => [...sockets].filter(([, ws]) => ws.readyState === WebSocket.OPEN).map(([user]) => user).sort();
    // The gateway picks a replica at random per socket: if none of the sleepers was on the first one killed, the other goes too.
    for (const victim of watch.instances().slice(0, 2)) {
      process.kill(Number(victim.labels.pid), "SIGKILL");
      await until(() => !watch.instances().some((i) => i.id === victim.id), 30_000, "the registry drops the killed replica");
      if (open().length < sleepers.length) break;
    }
    const survivors = open();
    assert.ok(survivors.length < sleepers.length, "some sleepers were on a killed replica");
    // The lease is 3 s and is swept every second: well within 20 s.
    let last: string[] = [];
    await until(
      async () => {
        last = await snapshot().catch(() => last);
        return last.join() === survivors.join();
      },
      20_000,
      `the contacts online become the sleepers still connected (${survivors.length} of ${sleepers.length})`,
    );
    for (const ws of sockets.values()) ws.close();
  });
});

describe("embedded: flotilla dev, one process", () => {
  before(async () => {
    dev = runFlotilla(["dev", "--port", "0", "--data-dir", join(dataDir, "dev")], authEnv());
    base = await dev.waitFor(/gateway\s+(http:\/\/\S+)/, 120_000);
  });
  after(async () => {
    await dev?.stop("SIGTERM");
  });

  test("the gateway hands the socket to the in-process service: chat, reconnect, resume", async () => {
    const [aliceToken, bobToken] = await Promise.all([token("alice"), token("bob")]);
    const conversationId = await directConversation(aliceToken);
    const alice = new App("alice", aliceToken, conversationId);
    const bob = new App("bob", bobToken, conversationId);
    alice.start();
    bob.start();
    await until(() => alice.ready && bob.ready, 20_000, "both apps connected");
    for (let i = 1; i <= 3; i++) await send(i % 2 ? aliceToken : bobToken, conversationId, `hi ${i}`);
    await until(() => bob.received.at(-1) === 3, 10_000, "bob has 3 messages");
    // Bob's app drops its connection (a tunnel, a network switch) and misses two messages.
    bob.drop();
    for (let i = 4; i <= 5; i++) await send(aliceToken, conversationId, `hi ${i}`);
    await until(() => bob.received.at(-1) === 5 && alice.received.at(-1) === 5, 10_000, "both have 5 messages");
    assert.deepEqual(bob.received, [1, 2, 3, 4, 5]);
    assert.deepEqual(alice.received, [1, 2, 3, 4, 5]);
    assert.ok(bob.reconnects >= 1);
    alice.stop();
    bob.stop();
  });
});
