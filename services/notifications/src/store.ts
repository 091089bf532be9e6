// Persistence: SQL only, no business rules.
import type { Queryable } from "@flotilla/kit";
import type { QuietHours } from "./domain.ts";
import type { ProviderName } from "./providers/types.ts";

export interface DeviceRow extends Record<string, unknown> {
  device_id: string;
  user_id: string;
  provider: ProviderName;
  token: string;
  p256dh: string;
  auth: string;
  platform: number;
  app_version: string;
  locale: string;
  active: boolean;
  /** The token's blind index; null for a row stored before sealing (its secrets in plain text). */
  token_index: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

/** A device to register; the secrets come sealed (device-secrets.ts). */
export interface NewDevice {
  deviceId: string;
  userId: string;
  provider: ProviderName;
  tokenIndex: string;
  token: string;
  p256dh: string;
  auth: string;
  platform: number;
  appVersion: string;
  locale: string;
}

/**
 * Registers a device, or refreshes the one with the same token (found by its
 * blind index): it moves to the caller (a phone that changed accounts) and
 * becomes active again. A row of the same token still in plain text (before
 * the sealer reached it) is replaced: `plainToken` finds it.
 */
export async function upsertDevice(db: Queryable, d: NewDevice, plainToken: string): Promise<DeviceRow> {
  await db.query("DELETE FROM devices WHERE provider = $1 AND token_index IS NULL AND token = $2", [d.provider, plainToken]);
  const [row] = await db.query<DeviceRow>(
    `INSERT INTO devices (device_id, user_id, provider, token_index, token, p256dh, auth, platform, app_version, locale)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (provider, token_index) DO UPDATE SET user_id = EXCLUDED.user_id, token = EXCLUDED.token, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
       platform = EXCLUDED.platform, app_version = EXCLUDED.app_version, locale = EXCLUDED.locale,
       active = true, inactive_reason = '', updated_at = now()
     RETURNING *`,
    [d.deviceId, d.userId, d.provider, d.tokenIndex, d.token, d.p256dh, d.auth, d.platform, d.appVersion, d.locale],
  );
  return row!;
}

export async function listDevices(db: Queryable, userId: string): Promise<DeviceRow[]> {
  return db.query<DeviceRow>("SELECT * FROM devices WHERE user_id = $1 ORDER BY created_at, device_id", [userId]);
}

export async function activeDevices(db: Queryable, userId: string): Promise<DeviceRow[]> {
  return db.query<DeviceRow>("SELECT * FROM devices WHERE user_id = $1 AND active ORDER BY created_at, device_id", [userId]);
}

export async function deleteDevice(db: Queryable, userId: string, deviceId: string): Promise<boolean> {
  const rows = await db.query("DELETE FROM devices WHERE device_id = $1 AND user_id = $2 RETURNING device_id", [deviceId, userId]);
  return rows.length > 0;
}

export async function deactivateDevice(db: Queryable, deviceId: string, reason: string): Promise<void> {
  await db.query("UPDATE devices SET active = false, inactive_reason = $2, updated_at = now() WHERE device_id = $1", [deviceId, reason]);
}

export interface StoredPreferences {
  muted: string[];
  quiet: QuietHours | undefined;
}

export async function readPreferences(db: Queryable, userId: string): Promise<StoredPreferences> {
  const [p] = await db.query<{ quiet_start: string; quiet_end: string; time_zone: string }>("SELECT quiet_start, quiet_end, time_zone FROM preferences WHERE user_id = $1", [userId]);
  const muted = await db.query<{ conversation_id: string }>("SELECT conversation_id FROM muted_conversations WHERE user_id = $1 ORDER BY conversation_id", [userId]);
  return {
    muted: muted.map((m) => m.conversation_id),
    quiet: p && p.time_zone !== "" ? { start: p.quiet_start, end: p.quiet_end, timeZone: p.time_zone } : undefined,
  };
}

export async function writePreferences(db: Queryable, userId: string, prefs: StoredPreferences): Promise<void> {
  await db.query(
    `INSERT INTO preferences (user_id, quiet_start, quiet_end, time_zone) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id) DO UPDATE SET quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, time_zone = EXCLUDED.time_zone, updated_at = now()`,
    [userId, prefs.quiet?.start ?? "", prefs.quiet?.end ?? "", prefs.quiet?.timeZone ?? ""],
  );
  await db.query("DELETE FROM muted_conversations WHERE user_id = $1", [userId]);
  for (const conversationId of prefs.muted) {
    await db.query("INSERT INTO muted_conversations (user_id, conversation_id) VALUES ($1, $2)", [userId, conversationId]);
  }
}

export type NotificationState = "pending" | "sent" | "seen" | "suppressed" | "undelivered";

export interface NotificationRow extends Record<string, unknown> {
  notification_id: string;
  user_id: string;
  message_id: string;
  conversation_id: string;
  title: string;
  body: string;
  state: NotificationState;
  reason: string;
  attempts: number;
  due_at: Date | string;
  created_at: Date | string;
}

/** The notifications of one message, one per recipient. */
export interface NewNotifications {
  messageId: string;
  conversationId: string;
  title: string;
  body: string;
  dueAt: Date;
  recipients: readonly { notificationId: string; userId: string; state: NotificationState; reason: string }[];
}

/** Records a message's notifications in one statement, once per (message, user): a second record of the same pair is ignored. */
export async function insertNotifications(db: Queryable, n: NewNotifications): Promise<void> {
  if (n.recipients.length === 0) return;
  const column = <K extends keyof NewNotifications["recipients"][number]>(key: K) => n.recipients.map((r) => r[key]);
  await db.query(
    `INSERT INTO notifications (notification_id, user_id, message_id, conversation_id, title, body, state, reason, due_at)
     SELECT r.notification_id, r.user_id, $5, $6, $7, $8, r.state, r.reason, $9
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(notification_id, user_id, state, reason)
     ON CONFLICT (message_id, user_id) DO NOTHING`,
    [column("notificationId"), column("userId"), column("state"), column("reason"), n.messageId, n.conversationId, n.title, n.body, n.dueAt.toISOString()],
  );
}

/** What decides a recipient's notification of one message. */
export interface RecipientContext {
  userId: string;
  muted: boolean;
  seen: boolean;
  quiet: QuietHours | undefined;
}

/** The preferences and seen state of every recipient of a message, in one statement. */
export async function recipientContexts(db: Queryable, conversationId: string, messageId: string, userIds: readonly string[]): Promise<RecipientContext[]> {
  const rows = await db.query<{ user_id: string; quiet_start: string | null; quiet_end: string | null; time_zone: string | null; muted: boolean; seen: boolean }>(
    `SELECT u.user_id, p.quiet_start, p.quiet_end, p.time_zone,
       EXISTS (SELECT 1 FROM muted_conversations mc WHERE mc.user_id = u.user_id AND mc.conversation_id = $1) AS muted,
       EXISTS (SELECT 1 FROM seen_messages s WHERE s.message_id = $2 AND s.user_id = u.user_id) AS seen
     FROM unnest($3::text[]) AS u(user_id) LEFT JOIN preferences p ON p.user_id = u.user_id`,
    [conversationId, messageId, [...userIds]],
  );
  return rows.map((r) => ({
    userId: r.user_id,
    muted: r.muted,
    seen: r.seen,
    quiet: r.time_zone ? { start: r.quiet_start ?? "", end: r.quiet_end ?? "", timeZone: r.time_zone } : undefined,
  }));
}

/**
 * Replaces a conversation's members when `version` is above the one kept (a
 * late or repeated announcement changes nothing); answers whether it did.
 * The version row is locked by the upsert, so two announcements of one
 * conversation apply one after the other.
 */
export async function applyMembers(db: Queryable, conversationId: string, version: bigint, memberIds: readonly string[]): Promise<boolean> {
  const newer = await db.query(
    `INSERT INTO conversation_versions (conversation_id, members_version) VALUES ($1, $2)
     ON CONFLICT (conversation_id) DO UPDATE SET members_version = EXCLUDED.members_version
     WHERE conversation_versions.members_version < EXCLUDED.members_version
     RETURNING conversation_id`,
    [conversationId, String(version)],
  );
  if (newer.length === 0) return false;
  await db.query("DELETE FROM conversation_members WHERE conversation_id = $1", [conversationId]);
  await db.query("INSERT INTO conversation_members (conversation_id, user_id) SELECT $1, u FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING", [conversationId, [...memberIds]]);
  return true;
}

/** The members kept for a conversation and their version; undefined before its first announcement. */
export async function membersOf(db: Queryable, conversationId: string): Promise<{ version: bigint; members: string[] } | undefined> {
  const [row] = await db.query<{ members_version: string | number; members: unknown[] }>(
    `SELECT v.members_version, coalesce((SELECT json_agg(m.user_id) FROM conversation_members m WHERE m.conversation_id = v.conversation_id), '[]') AS members
     FROM conversation_versions v WHERE v.conversation_id = $1`,
    [conversationId],
  );
  return row ? { version: BigInt(String(row.members_version)), members: row.members.map(String) } : undefined;
}

export async function wasSeen(db: Queryable, messageId: string, userId: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM seen_messages WHERE message_id = $1 AND user_id = $2", [messageId, userId]);
  return rows.length > 0;
}

/** Records that the user saw the message; a pending notification of it will not be pushed. */
export async function markSeen(db: Queryable, messageId: string, userId: string): Promise<void> {
  await db.query("INSERT INTO seen_messages (message_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [messageId, userId]);
  await db.query("UPDATE notifications SET state = 'seen', reason = 'seen', lease_until = NULL WHERE message_id = $1 AND user_id = $2 AND state = 'pending'", [messageId, userId]);
}

/**
 * Takes up to `limit` due notifications for `leaseMs`. Another scheduler
 * (replica) skips them; if this one dies, they are due again when the lease ends.
 */
export async function claimDue(db: Queryable, now: Date, leaseMs: number, limit: number): Promise<NotificationRow[]> {
  return db.query<NotificationRow>(
    `UPDATE notifications SET lease_until = $2, attempts = attempts + 1
     WHERE notification_id IN (
       SELECT notification_id FROM notifications
       WHERE state = 'pending' AND due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
       ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), limit],
  );
}

/** Devices whose push for this notification is settled (sent, failed for good, dead): never pushed again. */
export async function settledDevices(db: Queryable, notificationId: string): Promise<Map<string, string>> {
  const rows = await db.query<{ device_id: string; outcome: string }>("SELECT device_id, outcome FROM deliveries WHERE notification_id = $1 AND outcome <> 'retry'", [notificationId]);
  return new Map(rows.map((r) => [r.device_id, r.outcome]));
}

export async function attemptsSoFar(db: Queryable, notificationId: string, deviceId: string): Promise<number> {
  const [row] = await db.query<{ n: number | string }>("SELECT count(*)::int AS n FROM deliveries WHERE notification_id = $1 AND device_id = $2", [notificationId, deviceId]);
  return Number(row?.n ?? 0);
}

export interface DeliveryRecord {
  notificationId: string;
  deviceId: string;
  provider: string;
  attempt: number;
  outcome: "sent" | "retry" | "failed" | "dead_token";
  status: number;
  reason: string;
  providerId: string;
}

export async function recordDelivery(db: Queryable, d: DeliveryRecord): Promise<void> {
  await db.query(
    `INSERT INTO deliveries (notification_id, device_id, provider, attempt, outcome, status, reason, provider_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [d.notificationId, d.deviceId, d.provider, d.attempt, d.outcome, d.status, d.reason.slice(0, 500), d.providerId.slice(0, 200)],
  );
}

/** Ends a claim: a final state, or pending again at `dueAt` (a retry). Only while still pending (a seen event wins). */
export async function settleNotification(db: Queryable, notificationId: string, next: { state: NotificationState; reason: string; dueAt?: Date }): Promise<void> {
  await db.query(
    `UPDATE notifications SET state = $2, reason = $3, due_at = COALESCE($4::timestamptz, due_at), lease_until = NULL
     WHERE notification_id = $1 AND state = 'pending'`,
    [notificationId, next.state, next.reason, next.dueAt?.toISOString() ?? null],
  );
}

export async function listNotifications(db: Queryable, userId: string, limit: number): Promise<NotificationRow[]> {
  return db.query<NotificationRow>("SELECT * FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, notification_id DESC LIMIT $2", [userId, limit]);
}

export async function findNotification(db: Queryable, userId: string, notificationId: string): Promise<NotificationRow | undefined> {
  const [row] = await db.query<NotificationRow>("SELECT * FROM notifications WHERE notification_id = $1 AND user_id = $2", [notificationId, userId]);
  return row;
}

export interface DeliveryRow extends Record<string, unknown> {
  device_id: string;
  provider: string;
  attempt: number;
  outcome: string;
  status: number;
  reason: string;
  provider_id: string;
  at: Date | string;
}

export async function listDeliveries(db: Queryable, notificationId: string): Promise<DeliveryRow[]> {
  return db.query<DeliveryRow>("SELECT * FROM deliveries WHERE notification_id = $1 ORDER BY at, device_id, attempt", [notificationId]);
}

export async function devVapidKeys(db: Queryable, make: () => { publicKey: string; privateKey: string }): Promise<{ publicKey: string; privateKey: string }> {
  const fresh = make();
  await db.query("INSERT INTO dev_vapid_keys (id, public_key, private_key) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING", [fresh.publicKey, fresh.privateKey]);
  const [row] = await db.query<{ public_key: string; private_key: string }>("SELECT public_key, private_key FROM dev_vapid_keys WHERE id = 1");
  return { publicKey: row!.public_key, privateKey: row!.private_key };
}
