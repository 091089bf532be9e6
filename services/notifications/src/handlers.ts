// The notifications contract's handlers. Every method acts for the caller
// (the token's `sub`) and touches only the caller's rows.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { notificationsV1 } from "@flotilla/contracts";
import type { Database, FieldCipher, ServiceHandlers } from "@flotilla/kit";
import { callerId } from "./caller.ts";
import { sealDevice } from "./device-secrets.ts";
import { isTimeZone, newId, webPushHostAllowed } from "./domain.ts";
import { notificationsErrors } from "./errors.ts";
import type { ProviderName } from "./providers/types.ts";
import * as store from "./store.ts";

const { NotificationState } = notificationsV1;
const STATES: Record<store.NotificationState, notificationsV1.NotificationState> = {
  pending: NotificationState.PENDING,
  sent: NotificationState.SENT,
  seen: NotificationState.SEEN,
  suppressed: NotificationState.SUPPRESSED,
  undelivered: NotificationState.UNDELIVERED,
};

export interface HandlerDeps {
  db: Database;
  /** Seals device tokens and Web Push keys (device-secrets.ts). */
  cipher: FieldCipher;
  /** The VAPID public key web apps subscribe with; "" when Web Push is off. */
  webPushKey: () => string;
  /** Hosts a Web Push subscription may point to (FLOTILLA_WEBPUSH_ALLOWED_HOSTS). */
  webPushHosts: readonly string[];
}

export function notificationsHandlers({ db, cipher, webPushKey, webPushHosts }: HandlerDeps): ServiceHandlers<typeof notificationsV1.NotificationsService> {
  return {
    async registerDevice(req, ctx) {
      const userId = callerId(ctx);
      const target = deviceTarget(req.token, webPushHosts);
      const sealed = await sealDevice(cipher, target.provider, target);
      const row = await db.transaction((tx) =>
        store.upsertDevice(tx, { deviceId: newId("dev"), userId, provider: target.provider, ...sealed, platform: req.platform, appVersion: req.appVersion, locale: req.locale }, target.token),
      );
      return { device: toDevice(row) };
    },

    async deleteDevice(req, ctx) {
      const userId = callerId(ctx);
      if (!(await store.deleteDevice(db, userId, req.deviceId))) {
        throw notificationsErrors.create("NOTIFICATIONS_ERR_DEVICE_NOT_FOUND", `you have no device ${req.deviceId}`);
      }
      return {};
    },

    async listDevices(_req, ctx) {
      return { devices: (await store.listDevices(db, callerId(ctx))).map(toDevice) };
    },

    async getPreferences(_req, ctx) {
      return { preferences: toPreferences(await store.readPreferences(db, callerId(ctx))) };
    },

    async updatePreferences(req, ctx) {
      const userId = callerId(ctx);
      const q = req.preferences?.quietHours;
      if (q && !isTimeZone(q.timeZone)) {
        throw notificationsErrors.create("NOTIFICATIONS_ERR_BAD_TIME_ZONE", `${q.timeZone} is not an IANA time zone`, {
          violations: [{ field: "preferences.quiet_hours.time_zone", message: "must be an IANA time zone, e.g. Europe/Lisbon" }],
        });
      }
      const prefs: store.StoredPreferences = {
        muted: [...new Set(req.preferences?.mutedConversationIds ?? [])],
        quiet: q ? { start: q.start, end: q.end, timeZone: q.timeZone } : undefined,
      };
      await db.transaction((tx) => store.writePreferences(tx, userId, prefs));
      return { preferences: toPreferences(await store.readPreferences(db, userId)) };
    },

    async getWebPushKey() {
      return { publicKey: webPushKey() };
    },

    async listNotifications(req, ctx) {
      const rows = await store.listNotifications(db, callerId(ctx), req.limit === 0 ? 50 : req.limit);
      return {
        notifications: rows.map((n) => ({
          notificationId: n.notification_id,
          messageId: n.message_id,
          conversationId: n.conversation_id,
          state: STATES[n.state],
          reason: n.reason,
          createdAt: timestampFromDate(new Date(n.created_at)),
          dueAt: timestampFromDate(new Date(n.due_at)),
        })),
      };
    },

    async listDeliveries(req, ctx) {
      const n = await store.findNotification(db, callerId(ctx), req.notificationId);
      if (!n) throw notificationsErrors.create("NOTIFICATIONS_ERR_NOTIFICATION_NOT_FOUND", `you have no notification ${req.notificationId}`);
      const rows = await store.listDeliveries(db, n.notification_id);
      return {
        deliveries: rows.map((d) => ({
          deviceId: d.device_id,
          provider: d.provider,
          attempt: d.attempt,
          outcome: d.outcome,
          status: d.status,
          reason: d.reason,
          providerId: d.provider_id,
          at: timestampFromDate(new Date(d.at)),
        })),
      };
    },
  };
}

function deviceTarget(token: notificationsV1.RegisterDeviceRequest["token"], webPushHosts: readonly string[]): { provider: ProviderName; token: string; p256dh: string; auth: string } {
  switch (token.case) {
    case "apnsToken":
      return { provider: "apns", token: token.value.toLowerCase(), p256dh: "", auth: "" };
    case "fcmToken":
      return { provider: "fcm", token: token.value, p256dh: "", auth: "" };
    case "webPush": {
      const { endpoint, p256dh, auth } = token.value;
      if (!webPushHostAllowed(endpoint, webPushHosts)) {
        throw notificationsErrors.create("NOTIFICATIONS_ERR_BAD_SUBSCRIPTION", "the endpoint is not on a known Web Push service", {
          violations: [{ field: "web_push.endpoint", message: "host not among the allowed push services" }],
        });
      }
      const key = Buffer.from(p256dh, "base64url");
      const secret = Buffer.from(auth, "base64url");
      if (key.length !== 65 || key[0] !== 0x04 || secret.length !== 16) {
        throw notificationsErrors.create("NOTIFICATIONS_ERR_BAD_SUBSCRIPTION", "p256dh must be an uncompressed P-256 public key (65 bytes) and auth 16 bytes, base64url", {
          violations: [{ field: key.length !== 65 || key[0] !== 0x04 ? "web_push.p256dh" : "web_push.auth", message: "wrong length or format" }],
        });
      }
      return { provider: "webpush", token: endpoint, p256dh, auth };
    }
    default:
      // protovalidate's oneof rule makes this unreachable.
      throw notificationsErrors.create("NOTIFICATIONS_ERR_BAD_SUBSCRIPTION", "one of apns_token, fcm_token or web_push is required");
  }
}

function toDevice(r: store.DeviceRow) {
  return {
    deviceId: r.device_id,
    platform: r.platform,
    provider: r.provider,
    appVersion: r.app_version,
    locale: r.locale,
    active: r.active,
    createdAt: timestampFromDate(new Date(r.created_at)),
    updatedAt: timestampFromDate(new Date(r.updated_at)),
  };
}

function toPreferences(p: store.StoredPreferences) {
  return { mutedConversationIds: p.muted, ...(p.quiet ? { quietHours: p.quiet } : {}) };
}
