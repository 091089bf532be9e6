// APNs provider: HTTP/2 to api.push.apple.com with token-based auth.
// https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
//  - The provider token is an ES256 JWT ({alg, kid} / {iss: team id, iat}) signed with the .p8 key.
//    Apple rejects one older than an hour (ExpiredProviderToken) and throttles
//    refreshing more than every 20 minutes (TooManyProviderTokenUpdates): it is reused for 50 minutes.
//  - One HTTP/2 connection carries every push (Apple asks providers to keep it open).
import http2 from "node:http2";
import { importPKCS8, SignJWT } from "jose";
import { parseRetryAfter, truncateUtf8 } from "../domain.ts";
import { type PushMessage, type PushProvider, type PushResult, type PushTarget, unreachable } from "./types.ts";

export interface ApnsOptions {
  /** The .p8 key, PEM (PKCS#8, P-256). Never logged. */
  key: string;
  keyId: string;
  teamId: string;
  /** The app's bundle id: the `apns-topic`. */
  topic: string;
  /** @default "https://api.push.apple.com" (sandbox: https://api.sandbox.push.apple.com) */
  endpoint?: string;
  /** Extra trusted CA (PEM) — a TLS-intercepting proxy, or the fake server in tests. */
  ca?: string;
  /** How long one provider token is reused. @default 50 minutes (Apple: 20–60) */
  tokenTtlMs?: number;
  /** @default 10_000 */
  timeoutMs?: number;
  now?: () => Date;
}

/** The largest payload APNs accepts for an alert (bytes). */
export const APNS_MAX_PAYLOAD = 4096;

// Reasons that mean the token will never work again. Not DeviceTokenNotForTopic:
// a wrong FLOTILLA_APNS_TOPIC would otherwise deactivate every iOS device.
const DEAD = new Set(["BadDeviceToken", "Unregistered"]);

export class ApnsProvider implements PushProvider {
  readonly name = "apns" as const;
  readonly #options: Required<Omit<ApnsOptions, "ca">> & { ca: string | undefined };
  #key: ReturnType<typeof importPKCS8> | undefined;
  #token: { jwt: string; at: number } | undefined;
  #session: http2.ClientHttp2Session | undefined;

  constructor(options: ApnsOptions) {
    this.#options = {
      endpoint: "https://api.push.apple.com",
      tokenTtlMs: 50 * 60_000,
      timeoutMs: 10_000,
      now: () => new Date(),
      ca: undefined,
      ...options,
    };
    if (this.#options.tokenTtlMs > 60 * 60_000) throw new Error("APNs provider tokens must be refreshed within an hour");
  }

  /** The current provider token; a new one when the cached one is older than `tokenTtlMs`. */
  async providerToken(): Promise<string> {
    const now = this.#options.now().getTime();
    if (this.#token && now - this.#token.at < this.#options.tokenTtlMs) return this.#token.jwt;
    this.#key ??= importPKCS8(this.#options.key, "ES256");
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: this.#options.keyId })
      .setIssuer(this.#options.teamId)
      .setIssuedAt(Math.floor(now / 1000))
      .sign(await this.#key);
    this.#token = { jwt, at: now };
    return jwt;
  }

  async send(target: PushTarget, message: PushMessage, signal?: AbortSignal): Promise<PushResult> {
    let jwt: string;
    try {
      jwt = await this.providerToken();
    } catch (error) {
      return { outcome: "failed", status: 0, reason: `the APNs key cannot sign: ${(error as Error).message}` };
    }
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": `/3/device/${encodeURIComponent(target.token)}`,
      authorization: `bearer ${jwt}`,
      "apns-topic": this.#options.topic,
      "apns-push-type": "alert",
      "apns-priority": message.priority === "high" ? "10" : "5",
      "apns-expiration": String(message.expiresAt ? Math.floor(message.expiresAt.getTime() / 1000) : 0),
      "content-type": "application/json",
    };
    if (message.collapseKey) headers["apns-collapse-id"] = truncateUtf8(message.collapseKey, 64);
    const body = apnsPayload(message);
    try {
      const { status, headers: answer, text } = await this.#request(headers, body, signal);
      const apnsId = String(answer["apns-id"] ?? "");
      if (status === 200) return { outcome: "sent", status, reason: "", providerId: apnsId };
      const reason = readReason(text);
      if (status === 410 || DEAD.has(reason)) return { outcome: "dead_token", status, reason };
      if (status === 403 && (reason === "ExpiredProviderToken" || reason === "InvalidProviderToken")) {
        // Sign a fresh token for the next attempt.
        this.#token = undefined;
        return { outcome: "retry", status, reason };
      }
      const retryAfterMs = parseRetryAfter(answer["retry-after"] as string | undefined, this.#options.now());
      if (status === 429 || status >= 500) return { outcome: "retry", status, reason, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      return { outcome: "failed", status, reason };
    } catch (error) {
      return unreachable(error);
    }
  }

  #connect(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = http2.connect(this.#options.endpoint, this.#options.ca ? { ca: this.#options.ca } : {});
    const forget = () => {
      if (this.#session === session) this.#session = undefined;
    };
    session.on("error", forget);
    session.on("goaway", forget);
    session.on("close", forget);
    // An idle connection must not keep the process alive.
    session.unref();
    this.#session = session;
    return session;
  }

  #request(headers: http2.OutgoingHttpHeaders, body: string, signal: AbortSignal | undefined) {
    return new Promise<{ status: number; headers: http2.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const stream = this.#connect().request(headers, { ...(signal ? { signal } : {}) });
      stream.setTimeout(this.#options.timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      let answer: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        answer = h;
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const status = Number(answer[":status"] ?? 0);
        if (status === 0) reject(new Error("APNs closed the stream without an answer"));
        else resolve({ status, headers: answer, text: Buffer.concat(chunks).toString("utf8") });
      });
      stream.on("error", reject);
      stream.end(body);
    });
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session && !session.closed) await new Promise<void>((resolve) => session.close(() => resolve()));
  }
}

/** The JSON body: `aps` for the system, the custom keys beside it; the body is cut to fit 4 KB. */
export function apnsPayload(message: PushMessage): string {
  const build = (body: string) =>
    JSON.stringify({
      aps: { alert: { title: message.title, body }, sound: "default", ...(message.threadId ? { "thread-id": message.threadId } : {}) },
      ...message.data,
    });
  const full = build(message.body);
  if (Buffer.byteLength(full) <= APNS_MAX_PAYLOAD) return full;
  // JSON escaping makes the byte count of the body differ from the payload's,
  // so search for the longest prefix (whole characters) that fits.
  const chars = Array.from(message.body);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (Buffer.byteLength(build(`${chars.slice(0, mid).join("")}…`)) <= APNS_MAX_PAYLOAD) lo = mid;
    else hi = mid - 1;
  }
  return build(`${chars.slice(0, lo).join("")}…`);
}

function readReason(text: string): string {
  try {
    const reason = (JSON.parse(text) as { reason?: unknown }).reason;
    return typeof reason === "string" ? reason : "";
  } catch {
    return text.slice(0, 100);
  }
}
