// The realtime hub of one replica: the sockets of the users connected here,
// one broadcast subscription per such user (topic `user.<base64url id>`), and
// the fan-out of new messages, receipts, typing and presence to every replica.
import type { messagingV1 } from "@flotilla/contracts";
import { type Broadcast, type BroadcastSubscription, type Database, type Logger, topicToken } from "@flotilla/kit";
import type { WebSocket } from "ws";
import { checkMember, type Fanout } from "../conversations.ts";
import * as store from "../store.ts";
import { Connection, type ConnectionDeps, type ConnectionLimits } from "./connection.ts";
import { CloseCode, type Event, wireMessage } from "./frames.ts";
import type { SeenBatcher } from "./seen-batcher.ts";

export interface HubOptions {
  broadcast: Broadcast;
  db: Database;
  log: Logger;
  limits: ConnectionLimits;
  pingIntervalMs: number;
  seen: SeenBatcher;
  markRead(userId: string, conversationId: string, seq: bigint): Promise<unknown>;
}

interface UserEntry {
  connections: Set<Connection>;
  /** Connections open or about to open (between prepare and attach). */
  refs: number;
  subscription: Promise<BroadcastSubscription>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const topicOf = (userId: string) => `user.${topicToken(userId)}`;

export class RealtimeHub implements Fanout {
  readonly #o: HubOptions;
  readonly #users = new Map<string, UserEntry>();
  readonly #heartbeat: NodeJS.Timeout;
  /** What every connection shares: built once, not a set of closures per socket. */
  readonly #shared: Omit<ConnectionDeps, "userId" | "ws" | "closed">;
  #stopped = false;

  constructor(options: HubOptions) {
    this.#o = options;
    this.#shared = {
      db: options.db,
      log: options.log,
      limits: options.limits,
      markRead: async (user, conversationId, seq) => void (await options.markRead(user, conversationId, BigInt(seq))),
      typing: (user, conversationId) => this.typing(user, conversationId),
      seen: (conversationId, messageId, user) => options.seen.add(conversationId, messageId, user),
    };
    this.#heartbeat = setInterval(() => {
      for (const entry of this.#users.values()) for (const c of entry.connections) c.heartbeat();
    }, options.pingIntervalMs);
    this.#heartbeat.unref();
  }

  /** Sockets open on this replica (for metrics and tests). */
  get connections(): number {
    let n = 0;
    for (const entry of this.#users.values()) n += entry.connections.size;
    return n;
  }

  /**
   * Subscribes to the user's feed before the socket opens, so that nothing
   * published from then on can be missed by the resume. Returns a release for
   * when the upgrade fails instead.
   */
  async prepare(userId: string): Promise<() => void> {
    if (this.#stopped) throw new Error("the realtime hub is stopping");
    let entry = this.#users.get(userId);
    if (!entry) {
      const connections = new Set<Connection>();
      const subscription = this.#o.broadcast.subscribe(topicOf(userId), (payload) => this.#onPayload(connections, payload));
      entry = { connections, refs: 0, subscription };
      this.#users.set(userId, entry);
      subscription.catch(() => this.#users.get(userId) === entry && this.#users.delete(userId));
    }
    entry.refs++;
    await entry.subscription;
    let released = false;
    return () => {
      if (!released) this.#release(userId, entry);
      released = true;
    };
  }

  /** Takes a socket opened after `prepare(userId)`; the release passes to the connection. */
  attach(ws: WebSocket, userId: string): Connection {
    const entry = this.#users.get(userId)!;
    const first = entry.connections.size === 0;
    const connection = new Connection({
      ...this.#shared,
      userId,
      ws,
      closed: (c) => {
        entry.connections.delete(c);
        if (entry.connections.size === 0) void this.#presence(userId, false);
        this.#release(userId, entry);
      },
    });
    entry.connections.add(connection);
    if (first) void this.#presence(userId, true);
    return connection;
  }

  messageSent(message: messagingV1.Message, members: readonly string[]): void {
    this.#publish(members, { type: "message", message: wireMessage(message) });
  }

  readReceipt(conversationId: string, userId: string, readSeq: bigint, members: readonly string[]): void {
    this.#publish(members, { type: "receipt", conversation_id: conversationId, user_id: userId, read_seq: Number(readSeq) });
  }

  async typing(userId: string, conversationId: string): Promise<void> {
    await checkMember(this.#o.db, conversationId, userId);
    const others = (await store.memberIds(this.#o.db, conversationId)).filter((m) => m !== userId);
    this.#publish(others, { type: "typing", conversation_id: conversationId, user_id: userId });
  }

  /** Closes every socket with 1012 (restart: reconnect and resume elsewhere). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    const entries = [...this.#users.values()];
    for (const entry of entries) for (const c of entry.connections) c.close(CloseCode.restart, "server restarting; resume");
    await Promise.all(entries.map(async (e) => (await e.subscription.catch(() => undefined))?.unsubscribe()));
    this.#users.clear();
  }

  #release(userId: string, entry: UserEntry): void {
    entry.refs--;
    if (entry.refs > 0 || this.#users.get(userId) !== entry) return;
    this.#users.delete(userId);
    void entry.subscription.then((s) => s.unsubscribe()).catch(() => {});
  }

  #onPayload(connections: Set<Connection>, payload: Uint8Array): void {
    let event: Event;
    const text = decoder.decode(payload);
    try {
      event = JSON.parse(text) as Event;
    } catch (error) {
      this.#o.log.warn({ err: error }, "unreadable broadcast payload ignored");
      return;
    }
    // The payload is the event's JSON (#publish), which is also its client frame: forwarded as is.
    for (const c of connections) c.push(event, text);
  }

  #publish(users: readonly string[], event: Event): void {
    const payload = encoder.encode(JSON.stringify(event));
    for (const user of users) {
      this.#o.broadcast.publish(topicOf(user), payload).catch((error: unknown) => this.#o.log.warn({ err: error }, "realtime fan-out failed; clients catch up by seq"));
    }
  }

  // Best effort, per replica: a user connected to two replicas who leaves one
  // is briefly reported offline. Presence is a hint; messages are not.
  async #presence(userId: string, online: boolean): Promise<void> {
    try {
      this.#publish(await store.contactsOf(this.#o.db, userId), { type: "presence", user_id: userId, online });
    } catch (error) {
      this.#o.log.debug({ err: error }, "presence not sent");
    }
  }
}
