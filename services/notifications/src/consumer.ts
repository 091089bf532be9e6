// What the service does with messaging's events, inside the inbox
// transaction (so each event counts once). Nothing here talks to a provider:
// a message becomes a pending notification per recipient, due after the grace
// period, and the scheduler pushes it then. That keeps the inbox transaction
// short, and lets a `message_seen` arriving meanwhile cancel the push.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { messagingEventsV1 } from "@flotilla/contracts";
import type { CloudEvent, Queryable } from "@flotilla/kit";
import { decodeEvent } from "@flotilla/kit/internal";
import { inQuietHours, newId, truncateUtf8 } from "./domain.ts";
import * as store from "./store.ts";

export interface ConsumerOptions {
  graceMs: number;
  now?: () => Date;
}

export function onMessageSent(options: ConsumerOptions) {
  const now = options.now ?? (() => new Date());
  return async (event: CloudEvent, tx: Queryable): Promise<void> => {
    const m = decodeEvent(messagingEventsV1.MessageSentSchema, event);
    const at = now();
    const recipients = new Set(m.recipientIds.filter((id) => id !== "" && id !== m.senderId));
    for (const userId of recipients) {
      const prefs = await store.readPreferences(tx, userId);
      const reason = prefs.muted.includes(m.conversationId) ? "muted" : prefs.quiet && inQuietHours(at, prefs.quiet) ? "quiet_hours" : "";
      const seen = reason === "" && (await store.wasSeen(tx, m.messageId, userId));
      await store.insertNotification(tx, {
        notificationId: newId("ntf"),
        userId,
        messageId: m.messageId,
        conversationId: m.conversationId,
        title: truncateUtf8(m.senderName === "" ? "New message" : m.senderName, 100),
        body: truncateUtf8(m.preview, 200),
        state: reason !== "" ? "suppressed" : seen ? "seen" : "pending",
        reason: reason !== "" ? reason : seen ? "seen" : "",
        // From the send time (a late event is not held again), never from a sender clock ahead of ours.
        dueAt: new Date(Math.min(m.sentAt ? timestampDate(m.sentAt).getTime() : at.getTime(), at.getTime()) + options.graceMs),
      });
    }
  };
}

export function onMessageSeen() {
  return async (event: CloudEvent, tx: Queryable): Promise<void> => {
    const seen = decodeEvent(messagingEventsV1.MessageSeenSchema, event);
    if (seen.messageId === "" || seen.userId === "") return;
    await store.markSeen(tx, seen.messageId, seen.userId);
  };
}
