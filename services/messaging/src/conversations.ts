// What messaging does, whoever asks (a contract call or a socket frame): every
// function takes the verified caller and checks membership itself.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { messagingEventsV1, messagingV1 } from "@flotilla/contracts";
import type { Database, Logger, ServiceContext } from "@flotilla/kit";
import { createEvent } from "@flotilla/kit/internal";
import { directKey, membersOf, previewOf } from "./domain.ts";
import { messagingErrors } from "./errors.ts";
import type { MemberLists } from "./member-lists.ts";
import * as store from "./store.ts";

/** Realtime delivery after a commit (the hub); best effort — clients catch up by seq. */
export interface Fanout {
  messageSent(message: messagingV1.Message, members: readonly string[]): void;
  readReceipt(conversationId: string, userId: string, readSeq: bigint, members: readonly string[]): void;
}

export interface Deps {
  db: Database;
  outbox: ServiceContext["outbox"];
  source: string;
  log: Logger;
  fanout: Fanout;
  /** Member lists kept between sends; absent: read on every send. */
  memberLists?: MemberLists;
  now?: () => Date;
}

/** Throws unless the conversation exists and `userId` is a member of it. */
export async function checkMember(db: Database, conversationId: string, userId: string): Promise<void> {
  if (await store.isMember(db, conversationId, userId)) return;
  if (!(await store.conversationExists(db, conversationId))) throw messagingErrors.create("MESSAGING_ERR_CONVERSATION_NOT_FOUND", `no conversation with id ${conversationId}`);
  throw messagingErrors.create("MESSAGING_ERR_NOT_A_MEMBER", `you are not a member of conversation ${conversationId}`);
}

export async function createConversation(deps: Deps, caller: string, req: messagingV1.CreateConversationRequest): Promise<messagingV1.Conversation> {
  const members = membersOf(req.kind, caller, req.memberIds);
  const direct = req.kind === messagingV1.ConversationKind.DIRECT;
  const key = direct ? directKey(members[0]!, members[1]!) : null;
  const conversationId = crypto.randomUUID();
  const created = await deps.db.transaction(async (tx) => {
    if (!(await store.insertConversation(tx, { conversationId, kind: req.kind, title: direct ? "" : req.title.trim(), directKey: key, members }))) return false;
    // The members leave with the conversation, at its first version, so that a
    // consumer knows them before any message_sent names that version.
    await deps.outbox.enqueue(tx, [membersChangedEvent(deps.source, { conversationId, membersVersion: 0n, members }, deps.now?.() ?? new Date())]);
    return true;
  });
  const id = created ? conversationId : await store.findDirect(deps.db, key!);
  return (await store.readConversation(deps.db, id!))!;
}

/** messaging.members_changed.v1 for the members of a conversation at a version. */
export function membersChangedEvent(source: string, snapshot: store.MemberSnapshot, at: Date) {
  const event = create(messagingEventsV1.MembersChangedSchema, {
    conversationId: snapshot.conversationId,
    membersVersion: snapshot.membersVersion,
    memberIds: [...snapshot.members],
    changedAt: timestampFromDate(at),
  });
  return createEvent(messagingEventsV1.MembersChangedSchema, event, { source, subject: snapshot.conversationId });
}

/**
 * Stores a message once per (sender, client_message_id): the conversation row
 * is locked for the transaction, so sends to one conversation take seqs one
 * after the other — no gap, no duplicate — and a retry finds the first copy.
 */
export async function sendMessage(deps: Deps, caller: string, req: messagingV1.SendMessageRequest, trace: { traceparent?: string } = {}): Promise<messagingV1.Message> {
  const now = deps.now ?? (() => new Date());
  const outcome = await deps.db.transaction(async (tx) => {
    const kept = deps.memberLists?.peek(req.conversationId);
    // Two statements in one round trip (pipelined): the context runs after the
    // lock is granted, in a snapshot of its own, and reads the members only if
    // the kept list is not of the version the lock sees.
    const [head, context] = await Promise.all([
      store.lockConversation(tx, req.conversationId),
      store.sendContext(tx, req.conversationId, caller, req.clientMessageId, kept?.version),
    ]);
    if (!head) throw messagingErrors.create("MESSAGING_ERR_CONVERSATION_NOT_FOUND", `no conversation with id ${req.conversationId}`);
    const { member, earlier } = context;
    if (!member) {
      throw messagingErrors.create("MESSAGING_ERR_NOT_A_MEMBER", `you are not a member of conversation ${req.conversationId}`);
    }
    if (earlier) {
      if (earlier.text !== req.text) {
        throw messagingErrors.create("MESSAGING_ERR_CLIENT_ID_REUSED", `client_message_id ${req.clientMessageId} was already used for another text`);
      }
      return { message: earlier, members: [] as readonly string[], fresh: false };
    }
    const fromKept = kept !== undefined && kept.version === head.membersVersion;
    const members = fromKept ? kept.members : context.members;
    deps.memberLists?.used(fromKept);
    if (!fromKept) deps.memberLists?.set(req.conversationId, head.membersVersion, members);
    const sentAt = now();
    const seq = head.lastSeq + 1n;
    const messageId = crypto.randomUUID();
    const event = create(messagingEventsV1.MessageSentSchema, {
      conversationId: req.conversationId,
      messageId,
      seq,
      senderId: caller,
      // Not the recipients: consumers know the members at this version from
      // members_changed, and a group's list would make every event as large.
      membersVersion: head.membersVersion,
      preview: previewOf(req.text),
      sentAt: timestampFromDate(sentAt),
    });
    // The message and its event in one round trip (pipelined, one transaction).
    const [message] = await Promise.all([
      store.insertMessage(tx, { conversationId: req.conversationId, seq, messageId, senderId: caller, clientMessageId: req.clientMessageId, text: req.text, sentAt }),
      deps.outbox.enqueue(tx, [createEvent(messagingEventsV1.MessageSentSchema, event, { source: deps.source, subject: req.conversationId, ...trace })]),
    ]);
    return { message, members, fresh: true };
  });
  if (outcome.fresh) deps.fanout.messageSent(outcome.message, outcome.members);
  return outcome.message;
}

export async function listMessages(deps: Deps, caller: string, conversationId: string, afterSeq: bigint, limit: number) {
  await checkMember(deps.db, conversationId, caller);
  const rows = await store.messagesAfter(deps.db, conversationId, afterSeq, limit + 1);
  return { messages: rows.slice(0, limit), hasMore: rows.length > limit };
}

/** Moves the caller's read position forward; a receipt for the message at `seq` leaves as messaging.message_seen.v1. */
export async function markRead(deps: Deps, caller: string, conversationId: string, seq: bigint): Promise<bigint> {
  const now = deps.now ?? (() => new Date());
  const outcome = await deps.db.transaction(async (tx) => {
    const head = await store.lockConversation(tx, conversationId);
    if (!head) throw messagingErrors.create("MESSAGING_ERR_CONVERSATION_NOT_FOUND", `no conversation with id ${conversationId}`);
    if (!(await store.isMember(tx, conversationId, caller))) throw messagingErrors.create("MESSAGING_ERR_NOT_A_MEMBER", `you are not a member of conversation ${conversationId}`);
    if (seq > head.lastSeq) throw messagingErrors.create("MESSAGING_ERR_SEQ_AHEAD", `seq ${seq} is beyond the newest message (${head.lastSeq})`);
    const before = await store.markRead(tx, conversationId, caller, 0n);
    const after = await store.markRead(tx, conversationId, caller, seq);
    if (after === before) return { readSeq: after, members: [] as string[] };
    const message = await store.messageAt(tx, conversationId, after);
    if (message && message.senderId !== caller) {
      const seen = create(messagingEventsV1.MessageSeenSchema, {
        conversationId,
        messageId: message.messageId,
        userId: caller,
        via: messagingEventsV1.SeenVia.READ_RECEIPT,
        seenAt: timestampFromDate(now()),
      });
      await deps.outbox.enqueue(tx, [createEvent(messagingEventsV1.MessageSeenSchema, seen, { source: deps.source, subject: conversationId })]);
    }
    return { readSeq: after, members: await store.memberIds(tx, conversationId) };
  });
  if (outcome.members.length > 0) deps.fanout.readReceipt(conversationId, caller, outcome.readSeq, outcome.members);
  return outcome.readSeq;
}
