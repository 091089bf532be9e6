import { messagingEventsV1, notificationsV1 } from "@flotilla/contracts";
import { createFieldCipher, defineService, envKeyProvider, type KeyProvider, type ServiceDefinition } from "@flotilla/kit";
import { eventTypeOf } from "@flotilla/kit/internal";
import webpush from "web-push";
import { loadNotificationsConfig, type NotificationsConfig } from "./config.ts";
import { sealStoredDevices } from "./device-secrets.ts";
import { onMembersChanged, onMessageSeen, onMessageSent } from "./consumer.ts";
import { notificationsHandlers } from "./handlers.ts";
import { migrations } from "./migrations.ts";
import { type Providers, providersFromConfig } from "./providers/index.ts";
import { PushScheduler } from "./scheduler.ts";
import { devVapidKeys } from "./store.ts";

export const MESSAGE_SENT = eventTypeOf(messagingEventsV1.MessageSentSchema);
export const MESSAGE_SEEN = eventTypeOf(messagingEventsV1.MessageSeenSchema);
export const MEMBERS_CHANGED = eventTypeOf(messagingEventsV1.MembersChangedSchema);

export interface NotificationsOptions {
  /** @default from the environment (FLOTILLA_NOTIFICATIONS_*, FLOTILLA_APNS_*, FLOTILLA_FCM_*, FLOTILLA_VAPID_*) */
  config?: NotificationsConfig;
  /** Replaces the providers built from the config (tests point them at fake servers). */
  providers?: Providers;
  /** The master keys device tokens are sealed with. @default from the environment (FLOTILLA_MASTER_KEY[S]) */
  keys?: KeyProvider;
  now?: () => Date;
}

/**
 * The notifications service. In `flotilla dev`, when no VAPID key pair is
 * configured, one is made at first start and kept in the service's database,
 * so web apps can subscribe at once and stay subscribed across restarts.
 */
export function createNotificationsService(options: NotificationsOptions = {}): ServiceDefinition<typeof notificationsV1.NotificationsService> {
  return defineService({
    name: "notifications",
    version: process.env.FLOTILLA_VERSION ?? "0.1.0",
    contract: notificationsV1.NotificationsService,
    migrations,
    async create(ctx) {
      const config = options.config ?? loadNotificationsConfig();
      const keys = options.keys ?? envKeyProvider(process.env);
      const cipher = createFieldCipher({ keys });
      const configured = config.vapidPublicKey !== "" || config.vapidPrivateKey !== "";
      const devKeys = !configured && ctx.mode === "embedded" && !options.providers ? await devVapidKeys(ctx.db, () => webpush.generateVAPIDKeys()) : undefined;
      const providers = options.providers ?? providersFromConfig(config, ctx.log, devKeys);
      const now = options.now ?? (() => new Date());
      await ctx.subscribe("members-changed", MEMBERS_CHANGED, onMembersChanged());
      await ctx.subscribe("message-sent", MESSAGE_SENT, onMessageSent({ graceMs: config.graceMs, now, membersUnknown: ctx.metrics.counter("members_unknown_total", "message_sent events handled before their members version was known (delivered again after the backoff).") }));
      await ctx.subscribe("message-seen", MESSAGE_SEEN, onMessageSeen());
      const attempts = ctx.metrics.counter("push_attempts_total", "Push attempts to one device, by provider and outcome (sent, retry, failed, dead_token).", ["provider", "outcome"]);
      const scheduler = new PushScheduler({ db: ctx.db, providers, cipher, attempts, log: ctx.log, pollMs: config.pollMs, maxAttempts: config.maxAttempts, retryBaseMs: config.retryBaseMs, now });
      scheduler.start();
      // Rows in plain text (stored before sealing) or under a retired master key: rewritten in the
      // background, started once nothing above can fail (a failed start would leave it running).
      const sealing = new AbortController();
      const resealed = sealStoredDevices(ctx.db, cipher, keys.currentKeyId(), ctx.log, sealing.signal).catch((error: unknown) => {
        if (!sealing.signal.aborted) ctx.log.warn({ err: error }, "sealing device tokens stopped; it resumes at the next start");
      });
      const webPush = providers.webpush as { publicKey?: string } | undefined;
      return {
        handlers: notificationsHandlers({ db: ctx.db, cipher, webPushKey: () => webPush?.publicKey ?? "", webPushHosts: config.webPushHosts.split(",") }),
        async stop() {
          sealing.abort();
          await resealed;
          await scheduler.stop();
          await Promise.all(Object.values(providers).map((p) => p.close()));
        },
      };
    },
  });
}

export const notificationsService = createNotificationsService();
