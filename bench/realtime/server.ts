// A server child of the realtime benchmark, driven over IPC by run.ts:
//
//   node --expose-gc bench/realtime/server.ts ws  '<json options>'   a bare ws WebSocketServer (the limit)
//   node --expose-gc bench/realtime/server.ts hub '<json options>'   one messaging replica: the real hub,
//                                                                     PostgreSQL, NATS broadcast
//
// Requests (process.send): {id, op: "mem", shrink?} RSS after GC and the sockets held (shrink: a
// last-resort GC, which also gives back V8's young generation);
// {id, op: "broadcast", n} (ws) sends a payload tagged n to every socket;
// {id, op: "seed", members} (hub) creates a group of those users + "sender";
// {id, op: "send", n} (hub) sends message n to that group through the contract
// handler; {id, op: "exit"} exits (so a --cpu-prof profile is written).
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { messagingV1 } from "@flotilla/contracts";
import { createLogger } from "@flotilla/kit";
import { type HostedService, hostService, MemoryBus, NatsBroadcast, PostgresProvider } from "@flotilla/kit/internal";
import { createMessagingService, loadMessagingConfig } from "@flotilla/messaging";
import { WebSocket, WebSocketServer } from "ws";
import { wallClock } from "./stats.ts";

export interface ServerOptions {
  /** Bytes of the plain ws payload and of the hub's message text. */
  payloadBytes: number;
  nats?: { url: string; prefix: string };
  postgres?: { url: string; databasePrefix: string };
  auth?: { issuer: string; jwks: unknown; senderToken: string };
}

export type Request = { id: number } & (
  | { op: "mem"; shrink?: boolean }
  | { op: "broadcast"; n: number }
  | { op: "seed"; members: string[] }
  | { op: "send"; n: number }
  | { op: "exit" }
);

export interface MemReply {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  sockets: number;
}

/** When a broadcast or a send started (t0, wall clock) and how long the send call took before the fan-out (hub). */
export interface SendReply {
  t0: number;
  callMs: number;
}

const kind = process.argv[2];
const options = JSON.parse(process.argv[3] ?? "{}") as ServerOptions;
const gc = (globalThis as { gc?: () => void }).gc;

let sockets = 0;
const count = (socket: Duplex) => {
  sockets++;
  socket.once("close", () => sockets--);
};

function destroyOnError(this: Duplex): void {
  this.destroy();
}

const server = createServer((_req, res) => res.writeHead(404).end());
server.keepAliveTimeout = 0;
let upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
let handle: (req: Request) => Promise<unknown>;

if (kind === "ws") {
  // The limit: accept, hold, and send one payload to everyone in a loop.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const clients = new Set<WebSocket>();
  upgrade = (req, socket, head) => {
    socket.on("error", destroyOnError);
    count(socket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.once("close", () => clients.delete(ws));
    });
  };
  handle = async (req) => {
    if (req.op !== "broadcast") throw new Error(`ws server: unknown op ${req.op}`);
    const payload = Buffer.alloc(options.payloadBytes, 0x61);
    payload.writeUInt32BE(req.n, 0);
    const t0 = wallClock();
    for (const ws of clients) if (ws.readyState === WebSocket.OPEN) ws.send(payload);
    // Nothing precedes the fan-out here: no call to wait for.
    return { t0, callMs: 0 } satisfies SendReply;
  };
} else if (kind === "hub") {
  const { nats, postgres, auth } = options;
  if (!nats || !postgres || !auth) throw new Error("hub server: nats, postgres and auth options are required");
  const log = createLogger("bench", "silent");
  const config = loadMessagingConfig({ FLOTILLA_PUBLIC_URL: auth.issuer, FLOTILLA_AUTH_JWKS: JSON.stringify(auth.jwks) });
  const provider = new PostgresProvider({ url: postgres.url, databasePrefix: postgres.databasePrefix, poolSize: 4 });
  const broadcast = await NatsBroadcast.connect({ servers: nats.url, prefix: nats.prefix });
  const hosted: HostedService = await hostService(createMessagingService({ config }), { provider, bus: new MemoryBus(), broadcast, log, mode: "distributed" });
  const hubUpgrade = hosted.upgrade!;
  upgrade = (req, socket, head) => {
    count(socket);
    hubUpgrade(req, socket, head);
  };
  const method = messagingV1.MessagingService.method.sendMessage;
  const route = hosted.router.lookup(`/flotilla.messaging.v1.MessagingService/${method.name}`)!;
  let conversationId = "";
  handle = async (req) => {
    if (req.op === "seed") {
      // The contract caps a group at 256 members; the bench writes a larger one
      // straight into the tables, so that one send reaches every socket.
      conversationId = `bench-${crypto.randomUUID()}`;
      await hosted.db.transaction(async (tx) => {
        // Marked announced at version 0, as createConversation marks it when it
        // enqueues members_changed (once, before any send; nothing consumes it here).
        await tx.query("INSERT INTO conversations (conversation_id, kind, title, members_announced) VALUES ($1, $2, 'bench', 0)", [conversationId, messagingV1.ConversationKind.GROUP]);
        await tx.query("INSERT INTO members (conversation_id, user_id) SELECT $1, u FROM unnest($2::text[]) AS u", [conversationId, ["sender", ...req.members]]);
      });
      return { conversationId };
    }
    if (req.op === "send") {
      const text = `${String(req.n).padStart(8, "0")}${"a".repeat(Math.max(0, options.payloadBytes - 8))}`;
      const input = create(method.input, { conversationId, clientMessageId: `m${req.n}`, text });
      const t0 = wallClock();
      await route.invoke(input, {
        service: messagingV1.MessagingService,
        method: method as never,
        deadline: undefined,
        metadata: { authorization: `Bearer ${auth.senderToken}` },
        signal: new AbortController().signal,
      });
      return { t0, callMs: wallClock() - t0 } satisfies SendReply;
    }
    throw new Error(`hub server: unknown op ${req.op}`);
  };
} else {
  throw new Error(`usage: server.ts ws|hub '<json options>' (got ${kind})`);
}

server.on("upgrade", (req, socket, head) => upgrade(req, socket, head));

process.on("message", (message) => {
  const req = message as Request;
  const reply = async (): Promise<unknown> => {
    if (req.op === "exit") {
      setImmediate(() => process.exit(0));
      return {};
    }
    if (req.op === "mem") {
      // Several passes and a pause: ws and nats.js free some things a tick late.
      for (let i = 0; i < 3; i++) {
        // V8's gc() options: "last-resort" also shrinks the young generation (grown by a burst of
        // handshakes) and releases free pages; a V8 without options does a plain full GC.
        if (req.shrink) (gc as ((options?: object) => void) | undefined)?.({ type: "major", execution: "sync", flavor: "last-resort" });
        else gc?.();
        await new Promise((r) => setTimeout(r, 50));
      }
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, sockets } satisfies MemReply;
    }
    return handle(req);
  };
  reply().then(
    (result) => process.send?.({ id: req.id, result }),
    (error: unknown) => process.send?.({ id: req.id, error: String((error as Error).stack ?? error) }),
  );
});

server.listen(0, "127.0.0.1", () => process.send?.({ ready: (server.address() as AddressInfo).port, gc: gc !== undefined }));
