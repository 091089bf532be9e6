// The messaging contract's handlers: who is calling, then the operation.
import type { messagingV1 } from "@flotilla/contracts";
import type { ServiceHandlers } from "@flotilla/kit";
import { type Authenticate, callerOf } from "./auth.ts";
import * as ops from "./conversations.ts";
import { decodePageToken, encodePageToken, pageSize } from "./domain.ts";
import * as store from "./store.ts";

export function messagingHandlers(deps: ops.Deps, authenticate: Authenticate): ServiceHandlers<typeof messagingV1.MessagingService> {
  return {
    async createConversation(req, ctx) {
      const caller = await callerOf(ctx, authenticate);
      return { conversation: await ops.createConversation(deps, caller.subject, req) };
    },

    async listConversations(req, ctx) {
      const caller = await callerOf(ctx, authenticate);
      const page = await store.conversationsOf(deps.db, caller.subject, decodePageToken(req.pageToken), pageSize(req.pageSize, 20));
      return { conversations: page.conversations, nextPageToken: page.cursor ? encodePageToken(page.cursor) : "" };
    },

    async sendMessage(req, ctx) {
      const caller = await callerOf(ctx, authenticate);
      const traceparent = ctx.metadata.traceparent;
      return { message: await ops.sendMessage(deps, caller.subject, req, traceparent ? { traceparent } : {}) };
    },

    async listMessages(req, ctx) {
      const caller = await callerOf(ctx, authenticate);
      return ops.listMessages(deps, caller.subject, req.conversationId, req.afterSeq, pageSize(req.pageSize, 100));
    },

    async markRead(req, ctx) {
      const caller = await callerOf(ctx, authenticate);
      return { readSeq: await ops.markRead(deps, caller.subject, req.conversationId, req.seq) };
    },
  };
}
