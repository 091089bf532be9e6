// One interface for every push provider (APNs, FCM, Web Push). A provider
// makes ONE attempt and classifies the answer; the scheduler decides about
// retries, so that a backoff never holds a connection, a transaction or a
// timer that a restart would lose.

/** Providers Flotilla speaks, each named as stored in `devices.provider`. */
export const PROVIDERS = {
  /** Apple Push Notification service, HTTP/2 with token auth. */
  apns: "apns",
  /** Firebase Cloud Messaging, HTTP v1 API. */
  fcm: "fcm",
  /** Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm (RFC 8291). */
  webpush: "webpush",
} as const;
export type ProviderName = (typeof PROVIDERS)[keyof typeof PROVIDERS];

/** Where to push: what a device registered. */
export interface PushTarget {
  /** APNs/FCM token, or the Web Push endpoint. */
  token: string;
  /** Web Push only: the subscription's keys (base64url). */
  p256dh?: string;
  auth?: string;
}

export interface PushMessage {
  title: string;
  body: string;
  /** Custom keys for the app (conversation id, message id, ...). */
  data: Record<string, string>;
  /** Pushes with the same key replace each other on the device (APNs collapse id, FCM collapse key, Web Push topic). */
  collapseKey?: string;
  /** Groups notifications on the device (APNs thread-id, FCM tag). */
  threadId?: string;
  /** After this the provider drops an undelivered push. */
  expiresAt?: Date;
  /** high: deliver now and wake the device; normal: may be batched for battery. */
  priority: "high" | "normal";
}

/** What one attempt came to. */
export type PushOutcome =
  /** Accepted by the provider. */
  | "sent"
  /** Throttled (429), provider error (5xx), or not reachable: try again later. */
  | "retry"
  /** Refused for good (bad payload, bad credentials, ...): do not try again. */
  | "failed"
  /** The provider says the token or subscription no longer exists: deactivate the device. */
  | "dead_token";

export interface PushResult {
  outcome: PushOutcome;
  /** HTTP status, 0 when the provider could not be reached. */
  status: number;
  /** The provider's reason (`BadDeviceToken`, `UNREGISTERED`, ...) or a short description. */
  reason: string;
  /** The provider's id of the push (apns-id, FCM message name, Location of a Web Push message). */
  providerId?: string;
  /** From `Retry-After`, when the provider sent one. */
  retryAfterMs?: number;
}

export interface PushProvider {
  readonly name: ProviderName;
  /** One attempt. Never throws for a provider's answer or an unreachable provider: it classifies them. */
  send(target: PushTarget, message: PushMessage, signal?: AbortSignal): Promise<PushResult>;
  close(): Promise<void>;
}

/** A result for a provider that could not be reached at all. */
export function unreachable(error: unknown): PushResult {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { outcome: "retry", status: 0, reason: reason.slice(0, 200) };
}
