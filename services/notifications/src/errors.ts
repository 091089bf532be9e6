import { defineErrors } from "@flotilla/kit";

/** The notifications service's errors; each is documented in docs/errors.md. */
export const notificationsErrors = defineErrors({
  NOTIFICATIONS_ERR_UNAUTHENTICATED: { rpc: "unauthenticated", retryable: false, doc: "The call carries no bearer token with a subject: devices and preferences belong to a signed-in user." },
  NOTIFICATIONS_ERR_DEVICE_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "The caller has no device with this id." },
  NOTIFICATIONS_ERR_NOTIFICATION_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "The caller has no notification with this id." },
  NOTIFICATIONS_ERR_BAD_TIME_ZONE: { rpc: "invalid_argument", retryable: false, doc: "Quiet hours name a time zone that is not an IANA time zone (e.g. Europe/Lisbon)." },
  NOTIFICATIONS_ERR_BAD_SUBSCRIPTION: { rpc: "invalid_argument", retryable: false, doc: "A Web Push subscription's keys are not a P-256 public key and a 16-byte secret." },
  NOTIFICATIONS_ERR_MEMBERS_UNKNOWN: {
    rpc: "unavailable",
    retryable: true,
    doc: "A message_sent names a members version of its conversation that this service has not learned yet (members_changed is late); the event is handled again after the bus's backoff.",
  },
  NOTIFICATIONS_ERR_PROVIDER_CONFIG: { rpc: "failed_precondition", retryable: false, doc: "A push provider's settings are incomplete or malformed (APNs key, FCM service account, VAPID keys)." },
});
