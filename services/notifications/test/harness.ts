// The notifications service hosted in-process (kit runtime + MemoryBus +
// a database provider) with its providers pointed at the local fakes, a
// clock the test moves, and helpers to call it and to publish messaging's events.
import { generateKeyPairSync, createECDH, randomBytes, type ECDH } from "node:crypto";
import { Agent } from "node:https";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { messagingEventsV1, notificationsV1 } from "@flotilla/contracts";
import { createLogger, type DatabaseProvider, type KeyProvider } from "@flotilla/kit";
import { createEvent, type HostedService, hostService, MemoryBus } from "@flotilla/kit/internal";
import { testKeyProvider } from "@flotilla/kit/testing";
import { Registry } from "prom-client";
import webpush from "web-push";
import { createNotificationsService } from "../src/index.ts";
import { ApnsProvider } from "../src/providers/apns.ts";
import { FcmProvider } from "../src/providers/fcm.ts";
import { WebPushProvider } from "../src/providers/web-push.ts";
import { FakeApns } from "./fakes/fake-apns.ts";
import { FakeFcm } from "./fakes/fake-fcm.ts";
import { FakeWebPush } from "./fakes/fake-web-push.ts";
import { selfSignedCert } from "./fakes/tls.ts";

export const GRACE_MS = 2000;

export interface Harness {
  readonly hosted: HostedService;
  /** Stops the service (scheduler, consumers) and hosts it again on the same database: a restart; `keys` replaces the master keys (a rotation). */
  restart(keys?: KeyProvider): Promise<void>;
  bus: MemoryBus;
  /** The service's metrics registry (what /metrics would show). */
  metrics: Registry;
  /** A sample's value in the metrics text, 0 when absent: `name{labels}` as Prometheus prints it. */
  metric(sample: string): Promise<number>;
  apns: FakeApns;
  fcm: FakeFcm;
  web: FakeWebPush;
  webOrigin: string;
  /** The service's clock; move it with `advance`. */
  clock: { now: Date };
  advance(ms: number): void;
  call<M extends keyof typeof notificationsV1.NotificationsService.method>(name: M, input: object, user?: string): Promise<unknown>;
  /**
   * messaging's message_sent. Unless `how.announce` is false, the members
   * (recipients and sender) are first announced at the conversation's next
   * version and applied; `how.legacy` sends the recipients in the event
   * itself, as producers before members_version did, and announces nothing.
   */
  sent(m: { conversationId: string; messageId: string; sender: string; recipients: string[]; preview?: string }, eventId?: string, how?: { legacy?: boolean; announce?: boolean }): Promise<string>;
  /** messaging's members_changed; `applied` waits until the service has stored that version. */
  members(conversationId: string, version: bigint, memberIds: string[], applied?: boolean): Promise<string>;
  seen(messageId: string, userId: string): Promise<void>;
  /** A browser's push subscription keys, to decrypt what it receives. */
  browser(): { ecdh: ECDH; auth: Buffer; keys: { p256dh: string; auth: string } };
  stop(): Promise<void>;
}

export function bearer(sub: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `Bearer ${part({ alg: "ES256", typ: "at+jwt", kid: "k" })}.${part({ sub, aud: "flotilla", iss: "http://127.0.0.1:8080" })}.c2ln`;
}

/** `start`: the service clock at start (default 2030-06-01T12:00Z); tests that mix in real send times pass `new Date()`. */
export async function startHarness(provider: DatabaseProvider, start: Date = new Date("2030-06-01T12:00:00Z"), masterKeys: KeyProvider = testKeyProvider()): Promise<Harness> {
  const tls = await selfSignedCert();
  const apnsKey = generateKeyPairSync("ec", { namedCurve: "prime256v1", privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const fcmKey = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const ids = { keyId: "KEY1234567", teamId: "TEAM765432", topic: "com.example.chat" };
  const apns = new FakeApns({ tls, publicKey: apnsKey.publicKey, ...ids });
  const fcm = new FakeFcm({ projectId: "flotilla-test", clientEmail: "push@flotilla-test.iam.gserviceaccount.com", publicKey: fcmKey.publicKey });
  const web = new FakeWebPush(tls);
  const [apnsUrl, fcmUrl, webOrigin] = await Promise.all([apns.listen(), fcm.listen(), web.listen()]);
  const agent = new Agent({ ca: tls.cert });
  const clock = { now: start };
  const now = () => clock.now;
  const vapid = webpush.generateVAPIDKeys();
  const providers = {
    apns: new ApnsProvider({ key: apnsKey.privateKey, ...ids, endpoint: apnsUrl, ca: tls.cert, now: () => new Date() }),
    fcm: new FcmProvider({
      account: { project_id: "flotilla-test", client_email: "push@flotilla-test.iam.gserviceaccount.com", private_key: fcmKey.privateKey, token_uri: fcm.tokenUri },
      endpoint: fcmUrl,
    }),
    webpush: new WebPushProvider({ ...vapid, subject: "mailto:ops@example.com", agent }),
  };
  const config = {
    graceMs: GRACE_MS,
    pollMs: 20,
    maxAttempts: 3,
    retryBaseMs: 1000,
    apnsKey: "",
    apnsKeyId: "",
    apnsTeamId: "",
    apnsTopic: "",
    apnsEndpoint: "https://api.push.apple.com",
    fcmServiceAccount: "",
    fcmEndpoint: "https://fcm.googleapis.com",
    vapidPublicKey: "",
    vapidPrivateKey: "",
    vapidSubject: "mailto:ops@example.com",
    // The fake push service listens on loopback; production lists the browsers' push services.
    webPushHosts: new URL(webOrigin).host,
  };
  const bus = new MemoryBus();
  // The same master keys for every start unless a test rotates them: a restart must open what the first start sealed.
  let keys = masterKeys;
  const metrics = new Registry();
  const host = () =>
    hostService(createNotificationsService({ config, providers, keys, now }), { provider, bus, log: createLogger("test", (process.env.NTF_LOG ?? "silent") as "silent"), mode: "embedded", metrics });
  let hosted = await host();
  // The members version each conversation was last announced at by sent().
  const versions = new Map<string, bigint>();

  const harness: Harness = {
    get hosted() {
      return hosted;
    },
    async restart(rotated) {
      await hosted.stop();
      if (rotated) keys = rotated;
      hosted = await host();
    },
    bus,
    metrics,
    async metric(sample) {
      const line = (await metrics.metrics()).split("\n").find((l) => l.startsWith(`${sample} `));
      return line === undefined ? 0 : Number(line.slice(sample.length + 1));
    },
    apns,
    fcm,
    web,
    webOrigin,
    clock,
    advance(ms) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
    async call(name, input, user = "u-bob") {
      const method = notificationsV1.NotificationsService.method[name];
      const route = hosted.router.lookup(`/flotilla.notifications.v1.NotificationsService/${method.name}`)!;
      return route.invoke(create(method.input, input as never), {
        service: notificationsV1.NotificationsService,
        method: method as never,
        deadline: undefined,
        metadata: user === "" ? {} : { authorization: bearer(user) },
        signal: new AbortController().signal,
      });
    },
    async members(conversationId, version, memberIds, applied = true) {
      const schema = messagingEventsV1.MembersChangedSchema;
      const event = createEvent(schema, create(schema, { conversationId, membersVersion: version, memberIds }), { source: "/flotilla/messaging", subject: conversationId });
      await bus.publish([event]);
      if (!applied) return event.id;
      await eventually(async () => {
        const [row] = await hosted.db.query("SELECT 1 FROM conversation_versions WHERE conversation_id = $1 AND members_version >= $2", [conversationId, String(version)]);
        return row;
      }, `members of ${conversationId} at version ${version}`);
      return event.id;
    },
    async sent(m, eventId, how = {}) {
      const legacy = how.legacy === true;
      const version = legacy ? 0n : (versions.get(m.conversationId) ?? -1n) + 1n;
      if (!legacy) versions.set(m.conversationId, version);
      if (!legacy && how.announce !== false) await harness.members(m.conversationId, version, [m.sender, ...m.recipients]);
      const schema = messagingEventsV1.MessageSentSchema;
      const event = createEvent(
        schema,
        create(schema, {
          conversationId: m.conversationId,
          messageId: m.messageId,
          seq: 1n,
          senderId: m.sender,
          senderName: "Ana",
          ...(legacy ? { recipientIds: m.recipients } : { membersVersion: version }),
          preview: m.preview ?? "hello",
          sentAt: timestampFromDate(clock.now),
        }),
        { source: "/flotilla/messaging", subject: m.conversationId, ...(eventId ? { id: eventId } : {}) },
      );
      await bus.publish([event]);
      return event.id;
    },
    async seen(messageId, userId) {
      const schema = messagingEventsV1.MessageSeenSchema;
      await bus.publish([createEvent(schema, create(schema, { messageId, userId, conversationId: "c", via: messagingEventsV1.SeenVia.SOCKET }), { source: "/flotilla/messaging" })]);
    },
    browser() {
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = randomBytes(16);
      return { ecdh, auth, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") } };
    },
    async stop() {
      await hosted.stop();
      await bus.close();
      agent.destroy();
      await Promise.all([apns.close(), fcm.close(), web.close()]);
    },
  };
  return harness;
}

/** Polls `check` until it returns a value other than undefined (10 s at most). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
