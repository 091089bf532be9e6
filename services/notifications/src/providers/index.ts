// Builds the configured providers. Missing settings switch a provider off;
// half-given settings are an error naming what is missing (secrets are never
// echoed).
import { createPrivateKey } from "node:crypto";
import type { Logger } from "@flotilla/kit";
import { type NotificationsConfig, readSecret } from "../config.ts";
import { notificationsErrors } from "../errors.ts";
import { ApnsProvider } from "./apns.ts";
import { FcmProvider, type ServiceAccount } from "./fcm.ts";
import type { ProviderName, PushProvider } from "./types.ts";
import { WebPushProvider } from "./web-push.ts";

export type Providers = Partial<Record<ProviderName, PushProvider>>;

export function providersFromConfig(config: NotificationsConfig, log: Logger, vapid?: { publicKey: string; privateKey: string }): Providers {
  const providers: Providers = {};
  const apns = [config.apnsKey, config.apnsKeyId, config.apnsTeamId, config.apnsTopic];
  if (apns.every((v) => v !== "")) {
    const key = secret("FLOTILLA_APNS_KEY", config.apnsKey);
    checkKey("FLOTILLA_APNS_KEY", key, "ec", "prime256v1");
    providers.apns = new ApnsProvider({ key, keyId: config.apnsKeyId, teamId: config.apnsTeamId, topic: config.apnsTopic, endpoint: config.apnsEndpoint });
  } else if (apns.some((v) => v !== "")) {
    throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", "APNs needs FLOTILLA_APNS_KEY, FLOTILLA_APNS_KEY_ID, FLOTILLA_APNS_TEAM_ID and FLOTILLA_APNS_TOPIC together");
  }
  if (config.fcmServiceAccount !== "") {
    const account = parseServiceAccount(secret("FLOTILLA_FCM_SERVICE_ACCOUNT", config.fcmServiceAccount));
    checkKey("FLOTILLA_FCM_SERVICE_ACCOUNT private_key", account.private_key, "rsa");
    providers.fcm = new FcmProvider({ account, endpoint: config.fcmEndpoint });
  }
  const keys = config.vapidPublicKey !== "" || config.vapidPrivateKey !== "" ? { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey } : vapid;
  if (keys) {
    if (keys.publicKey === "" || keys.privateKey === "") {
      throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", "Web Push needs FLOTILLA_VAPID_PUBLIC_KEY and FLOTILLA_VAPID_PRIVATE_KEY together");
    }
    try {
      providers.webpush = new WebPushProvider({ ...keys, subject: config.vapidSubject });
    } catch (cause) {
      throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", `the VAPID key pair is not usable: ${(cause as Error).message}`);
    }
  }
  log.info({ providers: Object.keys(providers) }, "push providers");
  return providers;
}

function secret(variable: string, value: string): string {
  try {
    return readSecret(value);
  } catch (cause) {
    // The value is a path here (inline secrets are returned as they are), so naming it leaks nothing.
    throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", `${variable}: cannot read ${value}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/** Fails at start, not at the first push, on a key of the wrong kind; the message never includes the key. */
function checkKey(what: string, pem: string, type: "ec" | "rsa", curve?: string): void {
  let ok = false;
  try {
    const key = createPrivateKey(pem);
    ok = key.asymmetricKeyType === type && (curve === undefined || key.asymmetricKeyDetails?.namedCurve === curve);
  } catch {
    ok = false;
  }
  if (!ok) throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", `${what} is not a PEM ${type === "ec" ? "P-256 (ES256)" : "RSA"} private key`);
}

/** The fields of a service-account JSON key, checked; the key itself never appears in an error. */
export function parseServiceAccount(text: string): ServiceAccount {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", "FLOTILLA_FCM_SERVICE_ACCOUNT is not JSON");
  }
  const missing = ["project_id", "client_email", "private_key", "token_uri"].filter((k) => typeof json[k] !== "string" || json[k] === "");
  if (missing.length > 0) throw notificationsErrors.create("NOTIFICATIONS_ERR_PROVIDER_CONFIG", `FLOTILLA_FCM_SERVICE_ACCOUNT lacks ${missing.join(", ")}`);
  return {
    project_id: json.project_id as string,
    client_email: json.client_email as string,
    private_key: json.private_key as string,
    token_uri: json.token_uri as string,
    ...(typeof json.private_key_id === "string" ? { private_key_id: json.private_key_id } : {}),
  };
}
