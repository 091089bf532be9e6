// The notifications service's settings, from the environment. Provider
// credentials are optional: a provider left unconfigured is off, and pushes to
// its devices are logged as failed with reason `provider_not_configured`.
import { readFileSync } from "node:fs";
import { int, loadConfig, str, url } from "@flotilla/kit";

/** The push services of the browsers that implement Web Push (Chrome/Edge via FCM, Firefox, Safari, Windows). */
export const DEFAULT_WEB_PUSH_HOSTS = "fcm.googleapis.com,*.push.services.mozilla.com,updates.push.services.mozilla.com,web.push.apple.com,*.push.apple.com,*.notify.windows.com";

export const notificationsSettings = {
  graceMs: int("FLOTILLA_NOTIFICATIONS_GRACE_MS", 2000, "wait this long after a message before pushing it, so a message seen on the socket meanwhile is not pushed", { min: 0, max: 600_000 }),
  pollMs: int("FLOTILLA_NOTIFICATIONS_POLL_MS", 250, "how often the push scheduler looks for due notifications", { min: 10, max: 60_000 }),
  maxAttempts: int("FLOTILLA_NOTIFICATIONS_MAX_ATTEMPTS", 5, "attempts per device before a retryable failure (429/5xx) becomes final", { min: 1, max: 50 }),
  retryBaseMs: int("FLOTILLA_NOTIFICATIONS_RETRY_BASE_MS", 1000, "first retry delay; doubles per attempt, never shorter than the provider's Retry-After", { min: 0, max: 3_600_000 }),
  apnsKey: str("FLOTILLA_APNS_KEY", "", "APNs auth key (.p8): its PEM text or a file path; secret"),
  apnsKeyId: str("FLOTILLA_APNS_KEY_ID", "", "the key's id (10 characters), the provider token's kid", /^[A-Z0-9]{10}$/),
  apnsTeamId: str("FLOTILLA_APNS_TEAM_ID", "", "Apple developer team id, the provider token's iss", /^[A-Z0-9]{10}$/),
  apnsTopic: str("FLOTILLA_APNS_TOPIC", "", "the app's bundle id (apns-topic)", /^[A-Za-z0-9.-]+$/),
  apnsEndpoint: url("FLOTILLA_APNS_ENDPOINT", "https://api.push.apple.com", "APNs server (sandbox: https://api.sandbox.push.apple.com)", ["https:"]),
  fcmServiceAccount: str("FLOTILLA_FCM_SERVICE_ACCOUNT", "", "Firebase service-account key: its JSON text or a file path; secret"),
  fcmEndpoint: url("FLOTILLA_FCM_ENDPOINT", "https://fcm.googleapis.com", "FCM HTTP v1 server", ["https:", "http:"]),
  vapidPublicKey: str("FLOTILLA_VAPID_PUBLIC_KEY", "", "Web Push VAPID public key, base64url", /^[A-Za-z0-9_-]{80,100}$/),
  vapidPrivateKey: str("FLOTILLA_VAPID_PRIVATE_KEY", "", "Web Push VAPID private key, base64url; secret", /^[A-Za-z0-9_-]{40,50}$/),
  webPushHosts: str(
    "FLOTILLA_WEBPUSH_ALLOWED_HOSTS",
    DEFAULT_WEB_PUSH_HOSTS,
    "comma-separated hosts a Web Push subscription may point to (`*.` matches subdomains): the service POSTs to them, so anything else is refused at registration",
    /^(\*\.)?[A-Za-z0-9.-]+(:\d+)?(,(\*\.)?[A-Za-z0-9.-]+(:\d+)?)*$/,
  ),
  vapidSubject: str("FLOTILLA_VAPID_SUBJECT", "mailto:push@flotilla.invalid", "contact sent to push services (mailto: or https: URL)", /^(mailto:|https:\/\/)\S+$/),
};

export type NotificationsConfig = ReturnType<typeof loadNotificationsConfig>;

export function loadNotificationsConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(notificationsSettings, env);
}

/** A secret given inline (PEM or JSON text) or as a path to a file holding it. */
export function readSecret(value: string): string {
  const inline = value.trimStart();
  if (inline.startsWith("-----BEGIN") || inline.startsWith("{")) return value;
  return readFileSync(value, "utf8");
}
