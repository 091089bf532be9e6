// The messaging tables: conversations, members, messages. int8 columns arrive
// as strings from both PGlite and PostgreSQL; they leave here as bigint.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { messagingV1 } from "@flotilla/contracts";
import type { Queryable } from "@flotilla/kit";
import type { ConversationCursor } from "./domain.ts";

type Row = Record<string, unknown>;

const ts = (v: unknown) => timestampFromDate(v instanceof Date ? v : new Date(String(v)));

export function messageOf(row: Row): messagingV1.Message {
  return create(messagingV1.MessageSchema, {
    conversationId: String(row.conversation_id),
    messageId: String(row.message_id),
    seq: BigInt(String(row.seq)),
    senderId: String(row.sender_id),
    clientMessageId: String(row.client_message_id),
    text: String(row.text),
    sentAt: ts(row.sent_at),
  });
}

export interface ConversationHead {
  conversationId: string;
  lastSeq: bigint;
  /** Bumped by every change of the members (see migration 0002). */
  membersVersion: bigint;
}

/** Locks the conversation row for this transaction: sends to one conversation queue here. */
export async function lockConversation(tx: Queryable, conversationId: string): Promise<ConversationHead | undefined> {
  const [row] = await tx.query("SELECT conversation_id, last_seq, members_version FROM conversations WHERE conversation_id = $1 FOR UPDATE", [conversationId]);
  return row
    ? { conversationId: String(row.conversation_id), lastSeq: BigInt(String(row.last_seq)), membersVersion: BigInt(String(row.members_version)) }
    : undefined;
}

export async function conversationExists(db: Queryable, conversationId: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM conversations WHERE conversation_id = $1", [conversationId]);
  return rows.length > 0;
}

/** Seq of the newest message of a conversation (0 when it has none or does not exist). */
export async function lastSeqOf(db: Queryable, conversationId: string): Promise<bigint> {
  const [row] = await db.query("SELECT last_seq FROM conversations WHERE conversation_id = $1", [conversationId]);
  return BigInt(String(row?.last_seq ?? 0));
}

/** The members of a conversation, unsorted (for a fan-out; one row whatever the group size); none if it does not exist. */
export async function memberIds(db: Queryable, conversationId: string): Promise<string[]> {
  const [row] = await db.query("SELECT coalesce(json_agg(user_id), '[]') AS members FROM members WHERE conversation_id = $1", [conversationId]);
  return ((row?.members as unknown[] | undefined) ?? []).map(String);
}

export async function isMember(db: Queryable, conversationId: string, userId: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2", [conversationId, userId]);
  return rows.length > 0;
}

/** Everyone who shares a conversation with each of `userIds` (for presence), in one statement; a user with nobody is absent. */
export async function contactsOf(db: Queryable, userIds: readonly string[]): Promise<Map<string, string[]>> {
  const rows = await db.query(
    `SELECT m.user_id AS who, json_agg(DISTINCT o.user_id) AS contacts
     FROM members m JOIN members o ON o.conversation_id = m.conversation_id AND o.user_id <> m.user_id
     WHERE m.user_id = ANY($1::text[])
     GROUP BY m.user_id`,
    [[...userIds]],
  );
  return new Map(rows.map((r) => [String(r.who), (r.contacts as unknown[]).map(String)]));
}

export async function insertMessage(
  tx: Queryable,
  m: { conversationId: string; seq: bigint; messageId: string; senderId: string; clientMessageId: string; text: string; sentAt: Date },
): Promise<messagingV1.Message> {
  // The conversation's head and the message in one statement (one round trip).
  const [row] = await tx.query(
    `WITH head AS (UPDATE conversations SET last_seq = $2, last_activity_at = $7, last_message_at = $7 WHERE conversation_id = $1)
     INSERT INTO messages (conversation_id, seq, message_id, sender_id, client_message_id, text, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [m.conversationId, String(m.seq), m.messageId, m.senderId, m.clientMessageId, m.text, m.sentAt],
  );
  return messageOf(row!);
}

export interface SendContext {
  member: boolean;
  /** What this sender already stored under this client_message_id, if anything. */
  earlier: messagingV1.Message | undefined;
  /** Every member, in no set order: read only for a member's new message and when asked, empty otherwise. */
  members: string[];
}

/**
 * What a send reads, in one round trip. Run it after lockConversation, as a
 * statement of its own: its snapshot then includes what the sends that held
 * the lock before committed (a retry finds its first copy). The member list —
 * the long part in a large group — is read only when it will be used, so a
 * stranger's or a retry's send reads no more than its own rows, nor a send
 * whose caller kept the list at the conversation's current members_version
 * (`keptVersion`). It comes as json_agg, unsorted: for 10 000 members a
 * sorted array_agg took 8 ms against 2 ms (the text sort and the client's
 * array parser; bench/realtime).
 */
export async function sendContext(
  tx: Queryable,
  conversationId: string,
  senderId: string,
  clientMessageId: string,
  keptVersion?: bigint,
): Promise<SendContext> {
  const [row] = await tx.query(
    `SELECT me.member, e.conversation_id, e.seq, e.message_id, e.sender_id, e.client_message_id, e.text, e.sent_at,
       CASE WHEN me.member AND e.message_id IS NULL
         AND $4::bigint IS DISTINCT FROM (SELECT members_version FROM conversations WHERE conversation_id = $1)
         THEN (SELECT json_agg(m.user_id) FROM members m WHERE m.conversation_id = $1) END AS members
     FROM (SELECT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2) AS member) me
     LEFT JOIN messages e ON e.conversation_id = $1 AND e.sender_id = $2 AND e.client_message_id = $3`,
    [conversationId, senderId, clientMessageId, keptVersion === undefined ? null : String(keptVersion)],
  );
  const members = row?.members;
  return {
    member: row?.member === true,
    earlier: row?.message_id === null || row?.message_id === undefined ? undefined : messageOf(row),
    members: Array.isArray(members) ? members.map(String) : [],
  };
}

export async function messagesAfter(db: Queryable, conversationId: string, afterSeq: bigint, limit: number): Promise<messagingV1.Message[]> {
  const rows = await db.query("SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", [conversationId, String(afterSeq), limit]);
  return rows.map(messageOf);
}

export async function messageAt(db: Queryable, conversationId: string, seq: bigint): Promise<messagingV1.Message | undefined> {
  const [row] = await db.query("SELECT * FROM messages WHERE conversation_id = $1 AND seq = $2", [conversationId, String(seq)]);
  return row ? messageOf(row) : undefined;
}

export async function insertConversation(
  tx: Queryable,
  c: { conversationId: string; kind: number; title: string; directKey: string | null; members: readonly string[] },
): Promise<boolean> {
  const created = await tx.query(
    // Announced at version 0 by the caller, in this transaction (createConversation enqueues members_changed).
    "INSERT INTO conversations (conversation_id, kind, title, direct_key, members_announced) VALUES ($1, $2, $3, $4, 0) ON CONFLICT (direct_key) DO NOTHING RETURNING conversation_id",
    [c.conversationId, c.kind, c.title, c.directKey],
  );
  if (created.length === 0) return false;
  // One statement for every member: a large group is not a round trip per member.
  await tx.query("INSERT INTO members (conversation_id, user_id) SELECT $1, u FROM unnest($2::text[]) AS u", [c.conversationId, [...c.members]]);
  return true;
}

export interface MemberSnapshot {
  conversationId: string;
  membersVersion: bigint;
  members: readonly string[];
}

/**
 * Up to `limit` conversations whose members were not announced at their
 * current version, locked for the caller's transaction; another replica's
 * announcer skips them (SKIP LOCKED).
 */
export async function lockUnannounced(tx: Queryable, limit: number): Promise<MemberSnapshot[]> {
  const rows = await tx.query(
    `SELECT c.conversation_id, c.members_version,
       (SELECT coalesce(json_agg(m.user_id ORDER BY m.user_id), '[]') FROM members m WHERE m.conversation_id = c.conversation_id) AS members
     FROM conversations c
     WHERE c.members_announced IS DISTINCT FROM c.members_version
     ORDER BY c.conversation_id LIMIT $1 FOR UPDATE OF c SKIP LOCKED`,
    [limit],
  );
  return rows.map((r) => ({ conversationId: String(r.conversation_id), membersVersion: BigInt(String(r.members_version)), members: (r.members as unknown[]).map(String) }));
}

export async function markAnnounced(tx: Queryable, conversationId: string, version: bigint): Promise<void> {
  await tx.query("UPDATE conversations SET members_announced = $2 WHERE conversation_id = $1", [conversationId, String(version)]);
}

export async function findDirect(db: Queryable, key: string): Promise<string | undefined> {
  const [row] = await db.query("SELECT conversation_id FROM conversations WHERE direct_key = $1", [key]);
  return row ? String(row.conversation_id) : undefined;
}

export async function readConversation(db: Queryable, conversationId: string): Promise<messagingV1.Conversation | undefined> {
  const [row] = await db.query("SELECT * FROM conversations WHERE conversation_id = $1", [conversationId]);
  if (!row) return undefined;
  const members = await db.query("SELECT user_id, read_seq FROM members WHERE conversation_id = $1 ORDER BY user_id", [conversationId]);
  return conversationOf(row, members);
}

function conversationOf(row: Row, members: readonly Row[]): messagingV1.Conversation {
  return create(messagingV1.ConversationSchema, {
    conversationId: String(row.conversation_id),
    kind: Number(row.kind),
    title: String(row.title),
    members: members.map((m) => ({ userId: String(m.user_id), readSeq: BigInt(String(m.read_seq)) })),
    lastSeq: BigInt(String(row.last_seq)),
    createdAt: ts(row.created_at),
    ...(row.last_message_at ? { lastMessageAt: ts(row.last_message_at) } : {}),
  });
}

/** The user's conversations, most recently active first, after a cursor. */
export async function conversationsOf(
  db: Queryable,
  userId: string,
  after: ConversationCursor | undefined,
  limit: number,
): Promise<{ conversations: messagingV1.Conversation[]; cursor: ConversationCursor | undefined }> {
  const rows = await db.query(
    `SELECT c.*, c.last_activity_at::text AS cursor_at FROM conversations c JOIN members m ON m.conversation_id = c.conversation_id
      WHERE m.user_id = $1 AND ($2::timestamptz IS NULL OR (c.last_activity_at, c.conversation_id) < ($2::timestamptz, $3))
      ORDER BY c.last_activity_at DESC, c.conversation_id DESC LIMIT $4`,
    [userId, after?.at ?? null, after?.id ?? "", limit + 1],
  );
  const page = rows.slice(0, limit);
  const conversations: messagingV1.Conversation[] = [];
  for (const row of page) {
    const members = await db.query("SELECT user_id, read_seq FROM members WHERE conversation_id = $1 ORDER BY user_id", [row.conversation_id]);
    conversations.push(conversationOf(row, members));
  }
  const last = page.at(-1);
  const cursor = rows.length > limit && last ? { at: String(last.cursor_at), id: String(last.conversation_id) } : undefined;
  return { conversations, cursor };
}

/** Moves the member's read position forward (never back); answers the position after. */
export async function markRead(tx: Queryable, conversationId: string, userId: string, seq: bigint): Promise<bigint> {
  const [row] = await tx.query("UPDATE members SET read_seq = GREATEST(read_seq, $3) WHERE conversation_id = $1 AND user_id = $2 RETURNING read_seq", [
    conversationId,
    userId,
    String(seq),
  ]);
  return BigInt(String(row?.read_seq ?? 0));
}
