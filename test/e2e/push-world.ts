// The world of the push end-to-end test: a test token issuer (an external
// IdP serving its JWKS), the fake APNs, FCM and Web Push servers of
// services/notifications, and the environment that points `flotilla dev`'s
// providers at them through its ordinary settings. The fakes' self-signed
// certificate is trusted through NODE_EXTRA_CA_CERTS, as a company proxy's CA
// would be: the service has no test-only switch.
import { createECDH, type ECDH, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { FakeApns } from "../../services/notifications/test/fakes/fake-apns.ts";
import { FakeFcm } from "../../services/notifications/test/fakes/fake-fcm.ts";
import { FakeWebPush } from "../../services/notifications/test/fakes/fake-web-push.ts";
import { selfSignedCert } from "../../services/notifications/test/fakes/tls.ts";

export const APNS_IDS = { keyId: "KEY1234567", teamId: "TEAM765432", topic: "com.example.chat" } as const;
const FCM_ACCOUNT = { projectId: "flotilla-e2e", clientEmail: "push@flotilla-e2e.iam.gserviceaccount.com" } as const;

export interface PushWorld {
  issuer: string;
  token(sub: string): Promise<string>;
  apns: FakeApns;
  /** SPKI PEM of the APNs key's public half (to check provider tokens). */
  apnsPublicKey: string;
  fcm: FakeFcm;
  web: FakeWebPush;
  webOrigin: string;
  /** Settings for `flotilla dev`: auth by the test issuer, providers at the fakes. */
  env(graceMs: number): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** A browser's push subscription: its keys, and what decrypts what it is sent. */
export function browserSubscription(): { ecdh: ECDH; auth: Buffer; keys: { p256dh: string; auth: string } } {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, auth, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } };
}

export async function startPushWorld(dir: string): Promise<PushWorld> {
  const keys = await generateKeyPair("ES256");
  const signingKey: CryptoKey = keys.privateKey;
  const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: "e2e", alg: "ES256", use: "sig" };
  const idp: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;

  const tls = await selfSignedCert();
  const caFile = join(dir, "fakes-ca.pem");
  writeFileSync(caFile, tls.cert);
  const apnsKey = generateKeyPairSync("ec", { namedCurve: "prime256v1", privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const fcmKey = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const apns = new FakeApns({ tls, publicKey: apnsKey.publicKey, ...APNS_IDS });
  const fcm = new FakeFcm({ ...FCM_ACCOUNT, publicKey: fcmKey.publicKey });
  const web = new FakeWebPush(tls);
  const [apnsUrl, fcmUrl, webOrigin] = await Promise.all([apns.listen(), fcm.listen(), web.listen()]);
  const account = { type: "service_account", project_id: FCM_ACCOUNT.projectId, client_email: FCM_ACCOUNT.clientEmail, private_key: fcmKey.privateKey, token_uri: fcm.tokenUri };

  return {
    issuer,
    token: (sub) =>
      new SignJWT({ client_id: "e2e", scope: "", roles: [], permissions: [] })
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "e2e" })
        .setIssuer(issuer)
        .setAudience("flotilla")
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime("10m")
        .setJti(randomUUID())
        .sign(signingKey),
    apns,
    apnsPublicKey: apnsKey.publicKey,
    fcm,
    web,
    webOrigin,
    env: (graceMs) => ({
      FLOTILLA_PUBLIC_URL: issuer,
      FLOTILLA_AUTH_JWKS_URL: `${issuer}/.well-known/jwks.json`,
      FLOTILLA_GATEWAY_JWKS_URL: `${issuer}/.well-known/jwks.json`,
      NODE_EXTRA_CA_CERTS: caFile,
      FLOTILLA_NOTIFICATIONS_GRACE_MS: String(graceMs),
      FLOTILLA_NOTIFICATIONS_POLL_MS: "50",
      FLOTILLA_APNS_KEY: apnsKey.privateKey,
      FLOTILLA_APNS_KEY_ID: APNS_IDS.keyId,
      FLOTILLA_APNS_TEAM_ID: APNS_IDS.teamId,
      FLOTILLA_APNS_TOPIC: APNS_IDS.topic,
      FLOTILLA_APNS_ENDPOINT: apnsUrl,
      FLOTILLA_FCM_SERVICE_ACCOUNT: JSON.stringify(account),
      FLOTILLA_FCM_ENDPOINT: fcmUrl,
      FLOTILLA_WEBPUSH_ALLOWED_HOSTS: new URL(webOrigin).host,
    }),
    async close() {
      await Promise.all([apns.close(), fcm.close(), web.close(), new Promise<void>((resolve) => {
          idp.closeAllConnections();
          idp.close(() => resolve());
        })]);
    },
  };
}
