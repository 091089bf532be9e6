// One client socket. Everything it is sent goes through one queue, so that a
// catch-up read from the database and live messages never interleave out of
// order; per conversation it remembers the last seq sent and skips anything
// at or below it (no duplicate) and fills any jump from the database (no gap).
import type { Database, Logger } from "@flotilla/kit";
import { WebSocket } from "ws";
import { checkMember } from "../conversations.ts";
import * as store from "../store.ts";
import { type ClientFrame, CloseCode, type Event, FrameError, parseClientFrame, type ServerFrame, type WireMessage, wireMessage } from "./frames.ts";
import { TokenBucket } from "./rate-limit.ts";

export interface ConnectionLimits {
  maxBufferedBytes: number;
  framesPerSecond: number;
  frameBurst: number;
}

export interface ConnectionDeps {
  userId: string;
  ws: WebSocket;
  db: Database;
  log: Logger;
  limits: ConnectionLimits;
  /** A read receipt sent on the socket (same rules as POST …/read). */
  markRead(userId: string, conversationId: string, seq: number): Promise<void>;
  typing(userId: string, conversationId: string): Promise<void>;
  /** The client acknowledged a message from someone else: it is on screen. */
  seen(conversationId: string, messageId: string, userId: string): void;
  closed(connection: Connection): void;
}

const PAGE = 200;
// Live events held while the hello's catch-up runs; beyond, the client is too far behind.
const MAX_PENDING = 1_000;
// Delivered, not yet acknowledged messages per conversation (for message_seen).
const MAX_UNACKED = 1_000;

export class Connection {
  readonly userId: string;
  readonly #d: ConnectionDeps;
  readonly #bucket: TokenBucket;
  readonly #lastSent = new Map<string, number>();
  readonly #unacked = new Map<string, Array<{ seq: number; messageId: string }>>();
  #state: "hello" | "resuming" | "live" | "closed" = "hello";
  #pending: Event[] = [];
  #queue: Promise<void> = Promise.resolve();
  /** Tasks in #queue not yet finished: none means a live event may be sent at once. */
  #queued = 0;
  #answeredPing = true;

  constructor(deps: ConnectionDeps) {
    this.#d = deps;
    this.userId = deps.userId;
    this.#bucket = new TokenBucket(deps.limits.framesPerSecond, deps.limits.frameBurst);
    const ws = deps.ws;
    ws.on("message", (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on("pong", () => {
      this.#answeredPing = true;
    });
    ws.on("error", (error) => deps.log.debug({ err: error, user: this.userId }, "socket error"));
    ws.on("close", () => {
      this.#state = "closed";
      this.#pending = [];
      deps.closed(this);
    });
  }

  /** Called on every heartbeat tick: a peer that did not answer the previous ping is dead. */
  heartbeat(): void {
    if (this.#state === "closed") return;
    if (!this.#answeredPing) {
      this.#d.log.debug({ user: this.userId }, "peer stopped answering pings");
      this.#d.ws.terminate();
      return;
    }
    this.#answeredPing = false;
    this.#d.ws.ping();
  }

  /**
   * A live event for this user, from any replica; `text` is its JSON when the
   * caller has it already (the broadcast payload), sent as is.
   */
  push(event: Event, text?: string): void {
    if (this.#state === "closed") return;
    if (this.#state !== "live") {
      if (this.#pending.length >= MAX_PENDING) this.close(CloseCode.slowConsumer, "too far behind");
      else this.#pending.push(event);
      return;
    }
    // Nothing queued and nothing to fill from the database: send now. The
    // fan-out of one message to thousands of sockets then costs no promise
    // and no microtask per socket (measured in bench/realtime).
    if (this.#queued === 0) {
      if (event.type !== "message") {
        this.#send(event, text);
        return;
      }
      const m = event.message;
      const last = this.#lastSent.get(m.conversation_id);
      if (last !== undefined && m.seq <= last) return;
      if (last === undefined || m.seq === last + 1) {
        this.#sendMessage(m, text);
        return;
      }
    }
    this.#enqueue(() => this.#deliver(event));
  }

  close(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#pending = [];
    const ws = this.#d.ws;
    ws.close(code, reason);
    // A peer that does not complete the closing handshake (or never reads) is cut off.
    setTimeout(() => ws.terminate(), 1000).unref();
  }

  #enqueue(task: () => Promise<void>): void {
    this.#queued++;
    this.#queue = this.#queue
      .then(task)
      .catch((error: unknown) => {
        this.#d.log.warn({ err: error, user: this.userId }, "realtime delivery failed; closing so the client resumes");
        this.close(CloseCode.restart, "delivery failed; resume");
      })
      .then(() => {
        this.#queued--;
      });
  }

  async #deliver(event: Event): Promise<void> {
    if (event.type === "message") await this.#deliverMessage(event.message);
    else this.#send(event);
  }

  async #deliverMessage(m: WireMessage): Promise<void> {
    const last = this.#lastSent.get(m.conversation_id);
    if (last !== undefined && m.seq <= last) return;
    // A jump means a hint was lost (broadcast is not durable): fill from the database.
    if (last !== undefined && m.seq > last + 1) await this.#catchUp(m.conversation_id, last, m.seq - 1);
    if ((this.#lastSent.get(m.conversation_id) ?? -1) >= m.seq) return;
    this.#sendMessage(m);
  }

  async #catchUp(conversationId: string, after: number, upTo = Number.MAX_SAFE_INTEGER): Promise<void> {
    let from = after;
    for (;;) {
      if (this.#state === "closed") return;
      const page = await store.messagesAfter(this.#d.db, conversationId, BigInt(from), PAGE);
      for (const message of page) {
        const m = wireMessage(message);
        if (m.seq > upTo) return;
        this.#sendMessage(m);
        from = m.seq;
      }
      if (page.length < PAGE) return;
    }
  }

  #sendMessage(m: WireMessage, text?: string): void {
    if (!this.#send({ type: "message", message: m }, text)) return;
    this.#lastSent.set(m.conversation_id, m.seq);
    if (m.sender_id === this.userId) return;
    let list = this.#unacked.get(m.conversation_id);
    if (!list) {
      list = [];
      this.#unacked.set(m.conversation_id, list);
    }
    list.push({ seq: m.seq, messageId: m.message_id });
    // Forgetting the oldest only means a push that was not needed; never a lost message.
    if (list.length > MAX_UNACKED) list.shift();
  }

  #send(frame: ServerFrame, text?: string): boolean {
    const ws = this.#d.ws;
    if (this.#state === "closed" || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > this.#d.limits.maxBufferedBytes) {
      this.#d.log.info({ user: this.userId, buffered: ws.bufferedAmount }, "slow consumer disconnected");
      this.close(CloseCode.slowConsumer, "slow consumer: reconnect and resume");
      return false;
    }
    ws.send(text ?? JSON.stringify(frame));
    return true;
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#state === "closed") return;
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
      this.#lastSent.set(conversationId, Math.max(from, this.#lastSent.get(conversationId) ?? 0));
      await this.#catchUp(conversationId, from);
      resumed[conversationId] = this.#lastSent.get(conversationId) ?? from;
    }
    if (this.#state === "closed") return;
    this.#state = "live";
    this.#send({ type: "ready", resumed });
    const pending = this.#pending;
    this.#pending = [];
    for (const event of pending) await this.#deliver(event);
  }

  #ack(conversationId: string, seq: number): void {
    const list = this.#unacked.get(conversationId);
    if (!list) return;
    while (list.length > 0 && list[0]!.seq <= seq) {
      const { messageId } = list.shift()!;
      this.#d.seen(conversationId, messageId, this.userId);
    }
  }

  #sendError(error: unknown): void {
    const e = error as { code?: unknown; message?: unknown };
    const code = typeof e.code === "string" && (e.code.startsWith("MESSAGING_ERR_") || e.code.startsWith("KIT_ERR_TOKEN")) ? e.code : "KIT_ERR_INTERNAL";
    if (code === "KIT_ERR_INTERNAL") this.#d.log.error({ err: error, user: this.userId }, "realtime frame failed");
    this.#send({ type: "error", code, message: code === "KIT_ERR_INTERNAL" ? "the request failed; try again" : String(e.message) });
  }
}
