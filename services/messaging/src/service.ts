import { messagingV1 } from "@flotilla/contracts";
import { defineService, type ServiceDefinition } from "@flotilla/kit";
import { MembersAnnouncer } from "./announcer.ts";
import { type Authenticate, tokenAuthenticator } from "./auth.ts";
import { jwksOf, loadMessagingConfig, type MessagingConfig } from "./config.ts";
import { type Deps, markRead } from "./conversations.ts";
import { messagingHandlers } from "./handlers.ts";
import { MemberLists } from "./member-lists.ts";
import { migrations } from "./migrations.ts";
import { RealtimeHub } from "./realtime/hub.ts";
import { SeenBatcher } from "./realtime/seen-batcher.ts";
import { realtimeUpgrade } from "./realtime/upgrade.ts";

export interface MessagingOptions {
  /** Settings; absent: read from the environment when the service starts. */
  config?: MessagingConfig;
  /** How tokens are verified; absent: the chassis verifier on the configured key set. */
  authenticate?: Authenticate;
}

/** The messaging service, with settings and token checks injectable (tests). */
export function createMessagingService(options: MessagingOptions = {}): ServiceDefinition<typeof messagingV1.MessagingService> {
  return defineService({
    name: "messaging",
    version: process.env.FLOTILLA_VERSION ?? "0.1.0",
    contract: messagingV1.MessagingService,
    migrations,
    create(ctx) {
      const config = options.config ?? loadMessagingConfig();
      const authenticate = options.authenticate ?? tokenAuthenticator({ issuer: config.publicUrl, audience: "flotilla", jwks: jwksOf(config, ctx.invoke) });
      const memberLists = new MemberLists(undefined, ctx.metrics.counter("send_member_lists_total", "Sends by where their member list came from: kept by this replica, or read from the database.", ["list"]));
      ctx.metrics.gauge("member_lists_ids", "Member ids this replica keeps between sends.", () => memberLists.size);
      const seen = new SeenBatcher({ db: ctx.db, outbox: ctx.outbox, source: ctx.source, log: ctx.log });
      const deps: Deps = { db: ctx.db, outbox: ctx.outbox, source: ctx.source, log: ctx.log, fanout: undefined as never, memberLists };
      const hub = new RealtimeHub({
        broadcast: ctx.broadcast,
        db: ctx.db,
        log: ctx.log,
        seen,
        pingIntervalMs: config.pingIntervalMs,
        presenceLeaseMs: config.presenceLeaseMs,
        metrics: ctx.metrics,
        limits: { maxBufferedBytes: config.maxBufferedBytes, framesPerSecond: config.framesPerSecond, frameBurst: config.frameBurst },
        markRead: (user, conversationId, seq) => markRead(deps, user, conversationId, seq),
      });
      deps.fanout = hub;
      const announcer = new MembersAnnouncer({
        db: ctx.db,
        outbox: ctx.outbox,
        source: ctx.source,
        log: ctx.log,
        intervalMs: config.announceIntervalMs,
        announced: ctx.metrics.counter("members_announced_total", "Conversations whose members the announcer published (behind their members_version: after an upgrade, or a change that did not announce)."),
      });
      announcer.start();
      return {
        handlers: messagingHandlers(deps, authenticate),
        upgrade: realtimeUpgrade({ hub, authenticate, log: ctx.log, maxFrameBytes: config.maxFrameBytes }),
        async stop() {
          await announcer.stop();
          await hub.stop();
          await seen.stop();
        },
      };
    },
  });
}

export const messagingService = createMessagingService();
