// One client socket. Everything it is sent goes through one queue, so that a
// catch-up read from the database and live messages never interleave out of
// order; per conversation it remembers the last seq sent and skips anything
// at or below it (no duplicate) and fills any jump from the database (no gap).
//
// A replica holds tens of thousands of these: what is not needed yet (maps,
// the queue, the rate-limit bucket) is allocated when first used, the socket
// listeners are shared by every connection, and what the hub's connections
// have in common is one object (bench/realtime, memory per connection).
import type { Database, Logger } from "@flotilla/kit";
import { type RawData, WebSocket } from "ws";
import { checkMember } from "../conversations.ts";
import * as store from "../store.ts";
import { type ClientFrame, CloseCode, type Event, FrameError, parseClientFrame, type ServerFrame, type WireMessage, wireMessage } from "./frames.ts";
import { type Outbound, sendOutbound } from "./outbound.ts";
import type { RecentMessages } from "./recent-messages.ts";
import { TokenBucket } from "./rate-limit.ts";

export interface ConnectionLimits {
  maxBufferedBytes: number;
  framesPerSecond: number;
  frameBurst: number;
}

/** What every connection of one hub shares: built once per hub, not per socket. */
export interface ConnectionDeps {
  db: Database;
  log: Logger;
  limits: ConnectionLimits;
  /** A read receipt sent on the socket (same rules as POST …/read). */
  markRead(userId: string, conversationId: string, seq: number): Promise<void>;
  typing(userId: string, conversationId: string): Promise<void>;
  /** The client acknowledged a message from someone else: it is on screen. */
  seen(conversationId: string, messageId: string, userId: string): void;
  /** The ids of the replica's recent messages, by conversation and seq (what an ack marks seen). */
  recent: RecentMessages;
  closed(connection: Connection): void;
  /** The server closed a connection (metrics). */
  serverClosed(code: number): void;
  /** The user's contacts who are online now, for `ready`. */
  onlineContacts(userId: string): Promise<string[]>;
}

const PAGE = 200;
// Live events held while the hello's catch-up runs; beyond, the client is too far behind.
const MAX_PENDING = 1_000;

/**
 * Where a connection is in one conversation. Every seq in (acked, sent] was
 * sent on this socket (sends go one seq after the other, gaps filled from the
 * database): an ack up to a seq marks those messages seen.
 */
interface Position {
  /** The last seq sent. */
  sent: number;
  /** The last seq the client acknowledged, or had before this connection. */
  acked: number;
}

/** The socket's connection, for the listeners every connection shares. */
const CONNECTION = Symbol("connection");
type Tagged = WebSocket & { [CONNECTION]: Connection };

export class Connection {
  readonly userId: string;
  /** Which of the hub's heartbeat ticks pings this connection. */
  readonly heartbeatSlot: number;
  readonly #ws: WebSocket;
  readonly #d: ConnectionDeps;
  #bucket: TokenBucket | undefined;
  /** Per conversation id: one map, one lookup per delivery. */
  #positions: Map<string, Position> | undefined;
  #state: "hello" | "resuming" | "live" | "closed" = "hello";
  #pending: Event[] | undefined;
  #queue: Promise<void> | undefined;
  /** Tasks in #queue not yet finished: none means a live event may be sent at once. */
  #queued = 0;
  #answeredPing = true;

  constructor(deps: ConnectionDeps, userId: string, ws: WebSocket, heartbeatSlot = 0) {
    this.#d = deps;
    this.userId = userId;
    this.heartbeatSlot = heartbeatSlot;
    this.#ws = ws;
    (ws as Tagged)[CONNECTION] = this;
    ws.on("message", Connection.#onMessage);
    ws.on("pong", Connection.#onPong);
    ws.on("error", Connection.#onError);
    ws.on("close", Connection.#onClose);
  }

  // Function expressions, so that `this` is the socket that emitted.
  static readonly #onMessage = function (this: WebSocket, data: RawData, isBinary: boolean): void {
    (this as Tagged)[CONNECTION].#onFrame(data as Buffer, isBinary);
  };

  static readonly #onPong = function (this: WebSocket): void {
    (this as Tagged)[CONNECTION].#answeredPing = true;
  };

  static readonly #onError = function (this: WebSocket, error: Error): void {
    const c = (this as Tagged)[CONNECTION];
    c.#d.log.debug({ err: error, user: c.userId }, "socket error");
  };

  static readonly #onClose = function (this: WebSocket): void {
    const c = (this as Tagged)[CONNECTION];
    c.#state = "closed";
    c.#pending = undefined;
    c.#d.closed(c);
  };

  /** Called once per heartbeat interval: a peer that did not answer the previous ping is dead. */
  heartbeat(): void {
    if (this.#state === "closed") return;
    if (!this.#answeredPing) {
      this.#d.log.debug({ user: this.userId }, "peer stopped answering pings");
      this.#d.serverClosed(CloseCode.dead);
      this.#ws.terminate();
      return;
    }
    this.#answeredPing = false;
    this.#ws.ping();
  }

  /**
   * A live event for this user, from any replica; `out` is its frame when the
   * caller prepared it already (once for all the sockets of a broadcast).
   */
  push(event: Event, out?: Outbound): void {
    if (this.#state === "closed") return;
    if (this.#state !== "live") {
      this.#pending ??= [];
      const pending = this.#pending;
      if (pending.length >= MAX_PENDING) this.close(CloseCode.slowConsumer, "too far behind");
      else pending.push(event);
      return;
    }
    // Nothing queued and nothing to fill from the database: send now. The
    // fan-out of one message to thousands of sockets then costs no promise
    // and no microtask per socket (measured in bench/realtime).
    if (this.#queued === 0) {
      if (event.type !== "message") {
        this.#send(out ?? event);
        return;
      }
      const m = event.message;
      const last = this.#positions?.get(m.conversation_id)?.sent;
      if (last !== undefined && m.seq <= last) return;
      if (last === undefined || m.seq === last + 1) {
        this.#sendMessage(m, out);
        return;
      }
    }
    this.#enqueue(() => this.#deliver(event, out));
  }

  close(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#pending = undefined;
    this.#d.serverClosed(code);
    const ws = this.#ws;
    ws.close(code, reason);
    // A peer that does not complete the closing handshake (or never reads) is cut off.
    setTimeout(() => ws.terminate(), 1000).unref();
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queued++;
    const queue: Promise<void> = (this.#queue ?? Promise.resolve())
      .then(task)
      .catch((error: unknown) => {
        this.#d.log.warn({ err: error, user: this.userId }, "realtime delivery failed; closing so the client resumes");
        this.close(CloseCode.restart, "delivery failed; resume");
      })
      .then(() => {
        // Nothing left to wait for: the next task starts a new chain.
        if (--this.#queued === 0 && this.#queue === queue) this.#queue = undefined;
      });
    this.#queue = queue;
  }

  async #deliver(event: Event, out?: Outbound): Promise<void> {
    if (event.type === "message") await this.#deliverMessage(event.message, out);
    else this.#send(out ?? event);
  }

  async #deliverMessage(m: WireMessage, out?: Outbound): Promise<void> {
    const last = this.#positions?.get(m.conversation_id)?.sent;
    if (last !== undefined && m.seq <= last) return;
    // A jump means a hint was lost (broadcast is not durable): fill from the database.
    if (last !== undefined && m.seq > last + 1) await this.#catchUp(m.conversation_id, last, m.seq - 1);
    if ((this.#positions?.get(m.conversation_id)?.sent ?? -1) >= m.seq) return;
    this.#sendMessage(m, out);
  }

  async #catchUp(conversationId: string, after: number, upTo = Number.MAX_SAFE_INTEGER): Promise<void> {
    let from = after;
    for (;;) {
      if (this.#state === "closed") return;
      const page = await store.messagesAfter(this.#d.db, conversationId, BigInt(from), PAGE);
      for (const message of page) {
        const m = wireMessage(message);
        if (m.seq > upTo) return;
        this.#d.recent.remember(m.conversation_id, m.seq, m.message_id, m.sender_id);
        this.#sendMessage(m);
        from = m.seq;
      }
      if (page.length < PAGE) return;
    }
  }

  // Nothing allocated per message: a fan-out to thousands of sockets leaves no garbage here.
  #sendMessage(m: WireMessage, out?: Outbound): void {
    if (!this.#send(out ?? { type: "message", message: m })) return;
    this.#position(m.conversation_id, m.seq - 1).sent = m.seq;
  }

  /** The connection's position in a conversation; a new one starts with everything up to `had` acknowledged. */
  #position(conversationId: string, had: number): Position {
    this.#positions ??= new Map();
    let position = this.#positions.get(conversationId);
    if (!position) {
      position = { sent: had, acked: had };
      this.#positions.set(conversationId, position);
    }
    return position;
  }

  /** A frame of this connection's own (serialised here), or one prepared for many sockets. */
  #send(frame: ServerFrame | Outbound): boolean {
    const ws = this.#ws;
    if (this.#state === "closed" || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > this.#d.limits.maxBufferedBytes) {
      this.#d.log.info({ user: this.userId, buffered: ws.bufferedAmount }, "slow consumer disconnected");
      this.close(CloseCode.slowConsumer, "slow consumer: reconnect and resume");
      return false;
    }
    if ("framed" in frame) sendOutbound(ws, frame);
    else ws.send(JSON.stringify(frame));
    return true;
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#state === "closed") return;
    // Made at the first frame, full: the same as one made at connect, which
    // would have refilled to the burst by now.
    this.#bucket ??= new TokenBucket(this.#d.limits.framesPerSecond, this.#d.limits.frameBurst);
    if (!this.#bucket.take()) {
      this.close(CloseCode.rateLimited, "too many frames");
      return;
    }
    if (isBinary) {
      this.close(CloseCode.binary, "frames are JSON text");
      return;
    }
    let frame: ClientFrame;
    try {
      frame = parseClientFrame(data.toString("utf8"));
    } catch (error) {
      if (error instanceof FrameError) {
        this.#send({ type: "error", code: error.code, message: error.message });
        return;
      }
      this.close(CloseCode.malformed, "a frame is one JSON object");
      return;
    }
    if (this.#state === "hello" && frame.type !== "hello") {
      this.close(CloseCode.helloExpected, "the first frame must be hello");
      return;
    }
    switch (frame.type) {
      case "hello":
        if (this.#state !== "hello") {
          this.#send({ type: "error", code: "MESSAGING_ERR_BAD_FRAME", message: "hello was already received on this connection" });
          return;
        }
        this.#state = "resuming";
        this.#enqueue(() => this.#resume(frame.resume));
        return;
      case "ack":
        this.#ack(frame.conversation_id, frame.seq);
        return;
      case "receipt":
        this.#d.markRead(this.userId, frame.conversation_id, frame.seq).catch((e: unknown) => this.#sendError(e));
        return;
      case "typing":
        this.#d.typing(this.userId, frame.conversation_id).catch((e: unknown) => this.#sendError(e));
        return;
      case "ping":
        this.#send({ type: "pong", id: frame.id });
        return;
    }
  }

  /**
   * Catch-up without gap or duplicate: the user's live feed was subscribed
   * before the socket opened, and what it brings meanwhile waits in #pending;
   * read what the client missed from the database, then flush #pending, whose
   * messages at or below what was sent are skipped.
   */
  async #resume(resume: Map<string, number>): Promise<void> {
    const resumed: Record<string, number> = {};
    for (const [conversationId, last] of resume) {
      try {
        await checkMember(this.#d.db, conversationId, this.userId);
      } catch (error) {
        this.#sendError(error);
        continue;
      }
      // A position beyond the newest message (an app restored from another install) would hide new ones.
      const from = Math.min(last, Number(await store.lastSeqOf(this.#d.db, conversationId)));
      const position = this.#position(conversationId, from);
      position.sent = Math.max(from, position.sent);
      await this.#catchUp(conversationId, from);
      resumed[conversationId] = position.sent;
    }
    // After the catch-up; changes announced meanwhile wait in #pending and follow `ready`.
    const online = await this.#d.onlineContacts(this.userId).catch((error: unknown) => {
      this.#d.log.warn({ err: error, user: this.userId }, "cannot read the contacts online; ready lists none");
      return [];
    });
    if (this.#state === "closed") return;
    this.#state = "live";
    this.#send({ type: "ready", resumed, online });
    const pending = this.#pending;
    this.#pending = undefined;
    for (const event of pending ?? []) await this.#deliver(event);
  }

  #ack(conversationId: string, seq: number): void {
    const position = this.#positions?.get(conversationId);
    if (!position) return;
    const upTo = Math.min(seq, position.sent);
    const recent = this.#d.recent;
    // Further back than the replica remembers: those messages may get a push they did not need.
    for (let s = Math.max(position.acked + 1, upTo - recent.window + 1); s <= upTo; s++) {
      const m = recent.get(conversationId, s);
      if (m && m.senderId !== this.userId) this.#d.seen(conversationId, m.messageId, this.userId);
    }
    if (upTo > position.acked) position.acked = upTo;
  }

  #sendError(error: unknown): void {
    const e = error as { code?: unknown; message?: unknown };
    const code = typeof e.code === "string" && (e.code.startsWith("MESSAGING_ERR_") || e.code.startsWith("KIT_ERR_TOKEN")) ? e.code : "KIT_ERR_INTERNAL";
    if (code === "KIT_ERR_INTERNAL") this.#d.log.error({ err: error, user: this.userId }, "realtime frame failed");
    this.#send({ type: "error", code, message: code === "KIT_ERR_INTERNAL" ? "the request failed; try again" : String(e.message) });
  }
}
