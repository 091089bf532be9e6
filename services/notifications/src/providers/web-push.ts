// Web Push provider (RFC 8030) through the `web-push` package: the payload is
// encrypted for the subscription (RFC 8291, aes128gcm) and the request signed
// with the application server's VAPID key (RFC 8292).
import type { Agent } from "node:https";
import webpush from "web-push";
import { parseRetryAfter } from "../domain.ts";
import { type PushMessage, type PushProvider, type PushResult, type PushTarget, unreachable } from "./types.ts";

export interface WebPushOptions {
  /** base64url, uncompressed P-256 point. */
  publicKey: string;
  /** base64url, 32 bytes. Never logged. */
  privateKey: string;
  /** A contact for push services: `mailto:` or `https:` URL (RFC 8292 `sub`). */
  subject: string;
  /** Tests pass one that trusts the fake push service's certificate. */
  agent?: Agent;
  /** @default 10_000 */
  timeoutMs?: number;
  now?: () => Date;
}

/** RFC 8030 leaves the limit to push services; 4 KB is what all major ones accept. */
export const WEB_PUSH_MAX_PAYLOAD = 4096;

export class WebPushProvider implements PushProvider {
  readonly name = "webpush" as const;
  readonly #options: WebPushOptions;

  constructor(options: WebPushOptions) {
    // Fails early, with web-push's own message, on a malformed key or subject.
    webpush.getVapidHeaders("https://push.example", options.subject, options.publicKey, options.privateKey, "aes128gcm");
    this.#options = options;
  }

  get publicKey(): string {
    return this.#options.publicKey;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const now = this.#options.now?.() ?? new Date();
    const ttl = message.expiresAt ? Math.max(0, Math.floor((message.expiresAt.getTime() - now.getTime()) / 1000)) : 24 * 3600;
    const payload = JSON.stringify({ title: message.title, body: message.body, data: message.data, ...(message.threadId ? { tag: message.threadId } : {}) });
    try {
      const res = await webpush.sendNotification({ endpoint: target.token, keys: { p256dh: target.p256dh ?? "", auth: target.auth ?? "" } }, payload, {
        vapidDetails: { subject: this.#options.subject, publicKey: this.#options.publicKey, privateKey: this.#options.privateKey },
        TTL: ttl,
        urgency: message.priority === "high" ? "high" : "normal",
        // RFC 8030 topic: at most 32 base64url characters.
        ...(message.collapseKey ? { topic: topicOf(message.collapseKey) } : {}),
        contentEncoding: "aes128gcm",
        timeout: this.#options.timeoutMs ?? 10_000,
        ...(this.#options.agent ? { agent: this.#options.agent } : {}),
      });
      return { outcome: "sent", status: res.statusCode, reason: "", providerId: String(res.headers.location ?? "") };
    } catch (error) {
      if (!(error instanceof webpush.WebPushError)) return unreachable(error);
      const status = error.statusCode;
      const reason = (error.body ?? "").slice(0, 200) || `HTTP ${status}`;
      if (status === 404 || status === 410) return { outcome: "dead_token", status, reason };
      const retryAfterMs = parseRetryAfter(header(error.headers, "retry-after"), now);
      if (status === 429 || status >= 500) return { outcome: "retry", status, reason, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      return { outcome: "failed", status, reason };
    }
  }

  async close(): Promise<void> {}
}

function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return typeof v === "string" ? v : Array.isArray(v) ? String(v[0]) : undefined;
}

function topicOf(key: string): string {
  const clean = key.replace(/[^A-Za-z0-9_-]/g, "");
  return clean.length <= 32 ? clean : clean.slice(-32);
}
