import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "@flotilla/kit";
import webpush from "web-push";
import { loadNotificationsConfig } from "../config.ts";
import { parseServiceAccount, providersFromConfig } from "./index.ts";

const log = createLogger("test", "silent");

test("every provider is built from complete settings, secrets read inline or from a file", () => {
  const dir = mkdtempSync(join(tmpdir(), "ntf-"));
  try {
    const p8 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const keyFile = join(dir, "AuthKey.p8");
    writeFileSync(keyFile, p8);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const account = { project_id: "p", client_email: "a@p.iam.gserviceaccount.com", private_key: rsa, token_uri: "https://oauth2.googleapis.com/token" };
    const vapid = webpush.generateVAPIDKeys();
    const config = loadNotificationsConfig({
      FLOTILLA_APNS_KEY: keyFile,
      FLOTILLA_APNS_KEY_ID: "ABC123DEFG",
      FLOTILLA_APNS_TEAM_ID: "TEAM123456",
      FLOTILLA_APNS_TOPIC: "com.example.app",
      FLOTILLA_FCM_SERVICE_ACCOUNT: JSON.stringify(account),
      FLOTILLA_VAPID_PUBLIC_KEY: vapid.publicKey,
      FLOTILLA_VAPID_PRIVATE_KEY: vapid.privateKey,
    });
    const providers = providersFromConfig(config, log);
    assert.deepEqual(Object.keys(providers).sort(), ["apns", "fcm", "webpush"]);
    assert.deepEqual(Object.keys(providersFromConfig(loadNotificationsConfig({}), log)), [], "nothing configured: all off");

    // A key of the wrong kind, or a missing file, stops the start naming the variable and never the key.
    const apnsOnly = { FLOTILLA_APNS_KEY_ID: "ABC123DEFG", FLOTILLA_APNS_TEAM_ID: "TEAM123456", FLOTILLA_APNS_TOPIC: "com.example.app" };
    assert.throws(
      () => providersFromConfig(loadNotificationsConfig({ ...apnsOnly, FLOTILLA_APNS_KEY: rsa }), log),
      (error: Error & { code: string }) => error.code === "NOTIFICATIONS_ERR_PROVIDER_CONFIG" && /FLOTILLA_APNS_KEY is not a PEM P-256/.test(error.message) && !error.message.includes("PRIVATE KEY"),
    );
    assert.throws(() => providersFromConfig(loadNotificationsConfig({ ...apnsOnly, FLOTILLA_APNS_KEY: join(dir, "missing.p8") }), log), /FLOTILLA_APNS_KEY: cannot read .*ENOENT/);
    assert.throws(() => providersFromConfig(loadNotificationsConfig({ FLOTILLA_FCM_SERVICE_ACCOUNT: JSON.stringify({ ...account, private_key: p8 }) }), log), /private_key is not a PEM RSA/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("a service account lacking fields is named by field, its key never echoed", () => {
  assert.throws(() => parseServiceAccount("not json"), { code: "NOTIFICATIONS_ERR_PROVIDER_CONFIG" });
  assert.throws(
    () => parseServiceAccount(JSON.stringify({ project_id: "p", private_key: "SECRET-KEY-MATERIAL" })),
    (error: Error) => /client_email, token_uri/.test(error.message) && !error.message.includes("SECRET"),
  );
});
