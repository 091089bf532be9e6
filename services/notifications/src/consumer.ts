// What the service does with messaging's events, inside the inbox
// transaction (so each event counts once). Nothing here talks to a provider:
// a message becomes a pending notification per recipient, due after the grace
// period, and the scheduler pushes it then. That keeps the inbox transaction
// short, and lets a `message_seen` arriving meanwhile cancel the push. A
// message costs the same few statements whatever the size of its group: the
// recipients come from the members projection (members_changed), and their
// preferences and the notifications are read and written as sets.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { messagingEventsV1 } from "@flotilla/contracts";
import type { CloudEvent, Queryable, ServiceCounter } from "@flotilla/kit";
import { decodeEvent } from "@flotilla/kit/internal";
import { inQuietHours, newId, truncateUtf8 } from "./domain.ts";
import { notificationsErrors } from "./errors.ts";
import * as store from "./store.ts";

export interface ConsumerOptions {
  graceMs: number;
  membersUnknown?: ServiceCounter;
  now?: () => Date;
}

export function onMessageSent(options: ConsumerOptions) {
  const now = options.now ?? (() => new Date());
  return async (event: CloudEvent, tx: Queryable): Promise<void> => {
    const m = decodeEvent(messagingEventsV1.MessageSentSchema, event);
    const at = now();
    const recipients = (await recipientsOf(tx, m, options.membersUnknown)).filter((id) => id !== "" && id !== m.senderId);
    const contexts = await store.recipientContexts(tx, m.conversationId, m.messageId, [...new Set(recipients)]);
    await store.insertNotifications(tx, {
      messageId: m.messageId,
      conversationId: m.conversationId,
      title: truncateUtf8(m.senderName === "" ? "New message" : m.senderName, 100),
      body: truncateUtf8(m.preview, 200),
      // From the send time (a late event is not held again), never from a sender clock ahead of ours.
      dueAt: new Date(Math.min(m.sentAt ? timestampDate(m.sentAt).getTime() : at.getTime(), at.getTime()) + options.graceMs),
      recipients: contexts.map((r) => {
        const reason = r.muted ? "muted" : r.quiet && inQuietHours(at, r.quiet) ? "quiet_hours" : r.seen ? "seen" : "";
        const state = reason === "" ? "pending" : reason === "seen" ? "seen" : "suppressed";
        return { notificationId: newId("ntf"), userId: r.userId, state, reason };
      }),
    });
  };
}

/**
 * Who a message goes to: the members at the version it names, from
 * members_changed. A newer version is used as it is (a member added since
 * gets the push, one removed does not). An older one, or none, means that
 * announcement has not been handled yet: the typed error sends the event back
 * to the bus, which delivers it again after its backoff. An event from a
 * producer older than members_version carries its recipients itself.
 */
async function recipientsOf(tx: Queryable, m: messagingEventsV1.MessageSent, unknown?: ServiceCounter): Promise<readonly string[]> {
  if (m.recipientIds.length > 0) return m.recipientIds; // an event published before an upgrade
  const kept = await store.membersOf(tx, m.conversationId);
  if (!kept || kept.version < m.membersVersion) {
    unknown?.inc();
    throw notificationsErrors.create(
      "NOTIFICATIONS_ERR_MEMBERS_UNKNOWN",
      `conversation ${m.conversationId}: message ${m.messageId} is for members version ${m.membersVersion}, known: ${kept ? kept.version : "none"}`,
    );
  }
  return kept.members;
}

export function onMembersChanged() {
  return async (event: CloudEvent, tx: Queryable): Promise<void> => {
    const changed = decodeEvent(messagingEventsV1.MembersChangedSchema, event);
    if (changed.conversationId === "") return;
    await store.applyMembers(tx, changed.conversationId, changed.membersVersion, changed.memberIds);
  };
}

export function onMessageSeen() {
  return async (event: CloudEvent, tx: Queryable): Promise<void> => {
    const seen = decodeEvent(messagingEventsV1.MessageSeenSchema, event);
    if (seen.messageId === "" || seen.userId === "") return;
    await store.markSeen(tx, seen.messageId, seen.userId);
  };
}
