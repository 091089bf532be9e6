// The realtime hub of one replica: the sockets of the users connected here,
// ONE broadcast subscription for the whole replica (topic `realtime`), and the
// fan-out of new messages, receipts, typing and presence to every replica.
//
// A payload names its recipients and carries the event once: one publish per
// conversation (not per member), and each replica routes it to the sockets of
// the recipients it holds. A user gets only what was addressed to them, and
// the sender computed the recipients from the database (the members of the
// conversation, or a user's contacts for presence). See decision 0011.
import type { messagingV1 } from "@flotilla/contracts";
import type { Broadcast, BroadcastSubscription, Database, Logger, ServiceMetrics } from "@flotilla/kit";
import type { WebSocket } from "ws";
import { checkMember, type Fanout } from "../conversations.ts";
import * as store from "../store.ts";
import { Connection, type ConnectionDeps, type ConnectionLimits } from "./connection.ts";
import { CloseCode, type Event, wireMessage } from "./frames.ts";
import { outbound } from "./outbound.ts";
import { onlineContacts, PresenceBook } from "./presence.ts";
import { RecentMessages } from "./recent-messages.ts";
import type { SeenBatcher } from "./seen-batcher.ts";

export interface HubOptions {
  broadcast: Broadcast;
  db: Database;
  log: Logger;
  limits: ConnectionLimits;
  pingIntervalMs: number;
  seen: SeenBatcher;
  /** How long a replica's presence rows outlive its last renewal (presence.ts). */
  presenceLeaseMs: number;
  metrics: ServiceMetrics;
  markRead(userId: string, conversationId: string, seq: bigint): Promise<unknown>;
}

interface UserEntry {
  /** Copied on change, never changed in place (an array of one is far smaller than a Set). */
  connections: readonly Connection[];
  /** Connections open or about to open (between prepare and attach). */
  refs: number;
}

const NONE: readonly Connection[] = Object.freeze([]);

/** Users whose contacts one presence statement reads. */
const PRESENCE_READ = 200;

// The heartbeat pings one slice of the connections per tick, each connection
// still once per interval: 10 000 pings in one loop took 66–105 ms of CPU,
// and any fan-out waited behind them (bench/realtime).
const HEARTBEAT_SLICES = 10;

/** The one topic every replica subscribes: payloads are `<JSON recipients>\n<event JSON>`. */
export const REALTIME_TOPIC = "realtime";
// Recipients per payload: a group of 10 000 is a handful of payloads, each far
// below NATS's default 1 MB max_payload even with long user ids.
const MAX_RECIPIENT_BYTES = 256 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 0x0a;

/** Splits the recipients into JSON arrays of at most MAX_RECIPIENT_BYTES (never an empty one). */
export function recipientChunks(users: readonly string[], maxBytes = MAX_RECIPIENT_BYTES): string[] {
  if (users.length === 0) return [];
  // The common case, one payload: a single stringify, sized without encoding.
  const all = JSON.stringify(users);
  if (all.length * 3 <= maxBytes || Buffer.byteLength(all) <= maxBytes) return [all];
  const chunks: string[] = [];
  let part: string[] = [];
  let bytes = 2;
  for (const user of users) {
    const size = Buffer.byteLength(JSON.stringify(user)) + 1;
    if (part.length > 0 && bytes + size > maxBytes) {
      chunks.push(JSON.stringify(part));
      part = [];
      bytes = 2;
    }
    part.push(user);
    bytes += size;
  }
  if (part.length > 0) chunks.push(JSON.stringify(part));
  return chunks;
}

// A conversation's member list kept between sends (member-lists.ts) is the
// same array from one send to the next: its recipient JSON is made once (for
// 10 000 members ≈ 1 ms of each send call, bench/realtime).
const keptChunks = new WeakMap<readonly string[], string[]>();

function chunksOfKept(members: readonly string[]): string[] {
  let chunks = keptChunks.get(members);
  if (!chunks) {
    chunks = recipientChunks(members);
    keptChunks.set(members, chunks);
  }
  return chunks;
}

export class RealtimeHub implements Fanout {
  readonly #o: HubOptions;
  readonly #users = new Map<string, UserEntry>();
  readonly #heartbeat: NodeJS.Timeout;
  /** What every connection shares: built once, not a set of closures per socket. */
  readonly #shared: ConnectionDeps;
  /** Users this replica is about to announce online again (see #stillOnline). */
  readonly #correcting = new Set<string>();
  readonly #presenceBook: PresenceBook;
  #heartbeatTick = 0;
  #nextSlot = 0;
  /** The replica's subscription, made on the first connect (and again after it failed). */
  #subscription: Promise<BroadcastSubscription> | undefined;
  #stopped = false;

  constructor(options: HubOptions) {
    this.#o = options;
    const closes = options.metrics.counter("realtime_server_closes_total", "WebSockets the server closed, by close code (4008: slow consumer, 4029: rate limited, 1012: restart).", ["code"]);
    this.#shared = {
      db: options.db,
      log: options.log,
      limits: options.limits,
      markRead: async (user, conversationId, seq) => void (await options.markRead(user, conversationId, BigInt(seq))),
      typing: (user, conversationId) => this.typing(user, conversationId),
      seen: (conversationId, messageId, user) => options.seen.add(conversationId, messageId, user),
      recent: new RecentMessages(),
      closed: (connection) => this.#closed(connection),
      onlineContacts: (user) => onlineContacts(options.db, user),
      serverClosed: (code) => closes.inc({ code: String(code) }),
    };
    const sweptUsers = options.metrics.counter("presence_swept_users_total", "Users taken off replicas whose presence lease ended (killed), by this replica's sweep.");
    options.metrics.gauge("realtime_connections", "WebSockets open on this replica.", () => this.connections);
    options.metrics.gauge("realtime_users", "Users with a WebSocket open on this replica.", () => {
      let n = 0;
      for (const entry of this.#users.values()) if (entry.connections.length > 0) n++;
      return n;
    });
    this.#presenceBook = new PresenceBook({
      db: options.db,
      log: options.log,
      replicaId: crypto.randomUUID(),
      leaseMs: options.presenceLeaseMs,
      announce: (users, online) => void this.#presence(users, online),
      swept: (users) => sweptUsers.inc(users),
      held: () => [...this.#users].filter(([, entry]) => entry.connections.length > 0).map(([user]) => user),
    });
    this.#heartbeat = setInterval(() => {
      const slot = this.#heartbeatTick++ % HEARTBEAT_SLICES;
      for (const entry of this.#users.values()) for (const c of entry.connections) if (c.heartbeatSlot === slot) c.heartbeat();
    }, options.pingIntervalMs / HEARTBEAT_SLICES);
    this.#heartbeat.unref();
  }

  /** Sockets open on this replica (for metrics and tests). */
  get connections(): number {
    let n = 0;
    for (const entry of this.#users.values()) n += entry.connections.length;
    return n;
  }

  /**
   * Makes sure the replica's subscription is live and the user is routed here
   * before the socket opens, so that nothing published from then on can be
   * missed by the resume. Returns a release for when the upgrade fails instead.
   */
  async prepare(userId: string): Promise<() => void> {
    if (this.#stopped) throw new Error("the realtime hub is stopping");
    await this.#subscribed();
    let entry = this.#users.get(userId);
    if (!entry) {
      entry = { connections: NONE, refs: 0 };
      this.#users.set(userId, entry);
    }
    entry.refs++;
    const held = entry;
    let released = false;
    return () => {
      if (!released) this.#release(userId, held);
      released = true;
    };
  }

  /** Takes a socket opened after `prepare(userId)`; the release passes to the connection. */
  attach(ws: WebSocket, userId: string): Connection {
    const entry = this.#users.get(userId)!;
    const first = entry.connections.length === 0;
    const connection = new Connection(this.#shared, userId, ws, this.#nextSlot++ % HEARTBEAT_SLICES);
    entry.connections = first ? [connection] : [...entry.connections, connection];
    if (first) this.#presenceBook.online(userId);
    return connection;
  }

  messageSent(message: messagingV1.Message, members: readonly string[]): void {
    this.#publish(members, { type: "message", message: wireMessage(message) }, chunksOfKept);
  }

  readReceipt(conversationId: string, userId: string, readSeq: bigint, members: readonly string[]): void {
    this.#publish(members, { type: "receipt", conversation_id: conversationId, user_id: userId, read_seq: Number(readSeq) });
  }

  async typing(userId: string, conversationId: string): Promise<void> {
    // One read in the common case; the membership check's own reads only to say why not.
    const members = await store.memberIds(this.#o.db, conversationId);
    if (!members.includes(userId)) await checkMember(this.#o.db, conversationId, userId);
    const others = members.filter((m) => m !== userId);
    this.#publish(others, { type: "typing", conversation_id: conversationId, user_id: userId });
  }

  /** Closes every socket with 1012 (restart: reconnect and resume elsewhere). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    for (const entry of this.#users.values()) for (const c of entry.connections) c.close(CloseCode.restart, "server restarting; resume");
    const subscription = this.#subscription;
    this.#subscription = undefined;
    await (await subscription?.catch(() => undefined))?.unsubscribe();
    this.#users.clear();
    await this.#presenceBook.stop();
  }

  #subscribed(): Promise<BroadcastSubscription> {
    if (!this.#subscription) {
      const subscription = this.#o.broadcast.subscribe(REALTIME_TOPIC, (payload) => this.#onPayload(payload));
      this.#subscription = subscription;
      // A failed subscribe (broadcast down) is retried by the next connect.
      subscription.catch(() => {
        if (this.#subscription === subscription) this.#subscription = undefined;
      });
    }
    return this.#subscription;
  }

  // The user's entry is the one attach found: the connection's ref keeps it in the map.
  #closed(connection: Connection): void {
    const userId = connection.userId;
    const entry = this.#users.get(userId);
    if (!entry?.connections.includes(connection)) return;
    const rest = entry.connections.filter((c) => c !== connection);
    entry.connections = rest.length === 0 ? NONE : rest;
    if (rest.length === 0) this.#presenceBook.offline(userId);
    this.#release(userId, entry);
  }

  #release(userId: string, entry: UserEntry): void {
    entry.refs--;
    if (entry.refs > 0 || this.#users.get(userId) !== entry) return;
    this.#users.delete(userId);
  }

  #onPayload(payload: Uint8Array): void {
    const split = payload.indexOf(NEWLINE);
    let recipients: unknown;
    let event: Event;
    try {
      if (split < 0) throw new Error("no recipient line");
      recipients = JSON.parse(decoder.decode(payload.subarray(0, split)));
      if (!Array.isArray(recipients)) throw new Error("recipients are not a list");
      event = JSON.parse(decoder.decode(payload.subarray(split + 1))) as Event;
    } catch (error) {
      this.#o.log.warn({ err: error }, "unreadable broadcast payload ignored");
      return;
    }
    // The event's JSON (#publish) is also its client frame: framed once here,
    // the same bytes written to every socket.
    const out = outbound(payload.subarray(split + 1));
    if (event.type === "message") {
      const m = event.message;
      this.#shared.recent.remember(m.conversation_id, m.seq, m.message_id, m.sender_id);
    }
    if (event.type === "presence" && !event.online) this.#stillOnline(event.user_id);
    for (const user of recipients) {
      if (typeof user !== "string") continue;
      const entry = this.#users.get(user);
      if (entry) for (const c of entry.connections) c.push(event, out);
    }
  }

  #publish(users: readonly string[], event: Event, chunksOf: (users: readonly string[]) => string[] = recipientChunks): void {
    if (users.length === 0) return;
    const body = `\n${JSON.stringify(event)}`;
    for (const recipients of chunksOf(users)) {
      this.#o.broadcast
        .publish(REALTIME_TOPIC, encoder.encode(recipients + body))
        .catch((error: unknown) => this.#o.log.warn({ err: error }, "realtime fan-out failed; clients catch up by seq"));
    }
  }

  // Called by the presence book once a batch of changes is stored
  // (presence.ts); the contacts are read PRESENCE_READ users at a time, so a
  // connect storm (a replica's users coming back) is a few reads. A user still
  // connected to another replica when one announces them offline (two
  // replicas' changes crossing) is announced online again by that other
  // replica (#stillOnline). Presence is a hint; messages are not.
  async #presence(userIds: readonly string[], online: boolean): Promise<void> {
    for (let i = 0; i < userIds.length; i += PRESENCE_READ) {
      try {
        const contacts = await store.contactsOf(this.#o.db, userIds.slice(i, i + PRESENCE_READ));
        for (const [userId, theirs] of contacts) this.#publish(theirs, { type: "presence", user_id: userId, online });
      } catch (error) {
        this.#o.log.debug({ err: error }, "presence not sent");
      }
    }
  }

  // Another replica announced `userId` offline (their last socket there
  // closed); if this replica still holds a socket of theirs, they are online.
  // Once per announcement, however many payloads its recipients took.
  #stillOnline(userId: string): void {
    if (typeof userId !== "string" || this.#correcting.has(userId)) return;
    if ((this.#users.get(userId)?.connections.length ?? 0) === 0) return;
    this.#correcting.add(userId);
    setImmediate(() => {
      this.#correcting.delete(userId);
      if ((this.#users.get(userId)?.connections.length ?? 0) > 0) void this.#presence([userId], true);
    });
  }
}
