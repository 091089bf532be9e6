// FCM provider: the HTTP v1 API with a service account.
// https://firebase.google.com/docs/cloud-messaging/send/v1-api
//  - OAuth 2.0 for server-to-server (RFC 7523): an RS256 JWT signed with the
//    service account's private key is exchanged at its token_uri for an access
//    token, reused until shortly before it expires.
//  - POST {endpoint}/v1/projects/{project_id}/messages:send with the bearer.
import { importPKCS8, SignJWT } from "jose";
import { parseRetryAfter } from "../domain.ts";
import { type PushMessage, type PushProvider, type PushResult, type PushTarget, unreachable } from "./types.ts";

/** The fields of a service-account JSON key that FCM needs. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  /** PEM, PKCS#8 RSA. Never logged. */
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

export interface FcmOptions {
  account: ServiceAccount;
  /** @default "https://fcm.googleapis.com" */
  endpoint?: string;
  /** Overrides the account's token_uri (tests, private proxies). */
  tokenUri?: string;
  /** Reaches the endpoints; tests pass one that trusts the fake's certificate. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default 10_000 */
  timeoutMs?: number;
  now?: () => Date;
}

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
/** FCM's limit on a message's data (bytes, keys and values). */
export const FCM_MAX_DATA = 4096;

export class FcmProvider implements PushProvider {
  readonly name = "fcm" as const;
  readonly #account: ServiceAccount;
  readonly #endpoint: string;
  readonly #tokenUri: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #now: () => Date;
  #key: ReturnType<typeof importPKCS8> | undefined;
  #access: { token: string; until: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(options: FcmOptions) {
    this.#account = options.account;
    this.#endpoint = (options.endpoint ?? "https://fcm.googleapis.com").replace(/\/+$/, "");
    this.#tokenUri = options.tokenUri ?? options.account.token_uri;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#now = options.now ?? (() => new Date());
  }

  /** An OAuth access token; one exchange at a time, reused until a minute before it expires. */
  async accessToken(): Promise<string> {
    if (this.#access && this.#now().getTime() < this.#access.until) return this.#access.token;
    this.#pending ??= this.#exchange().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #exchange(): Promise<string> {
    const iat = Math.floor(this.#now().getTime() / 1000);
    let assertion: string;
    try {
      this.#key ??= importPKCS8(this.#account.private_key, "RS256");
      assertion = await new SignJWT({ scope: FCM_SCOPE })
        .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(this.#account.private_key_id ? { kid: this.#account.private_key_id } : {}) })
        .setIssuer(this.#account.client_email)
        .setAudience(this.#tokenUri)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 3600)
        .sign(await this.#key);
    } catch (error) {
      this.#key = undefined;
      throw new TokenExchangeError(-1, `the service account key cannot sign: ${(error as Error).message}`);
    }
    let res: Response;
    try {
      res = await this.#fetch(this.#tokenUri, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new TokenExchangeError(0, `token endpoint unreachable: ${(error as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    if (!res.ok || typeof json.access_token !== "string") {
      throw new TokenExchangeError(res.status, typeof json.error === "string" ? json.error : `token endpoint answered ${res.status}`);
    }
    const lifetime = typeof json.expires_in === "number" ? json.expires_in : 3600;
    this.#access = { token: json.access_token, until: this.#now().getTime() + Math.max(0, lifetime - 60) * 1000 };
    return json.access_token;
  }

  async send(target: PushTarget, message: PushMessage, signal?: AbortSignal): Promise<PushResult> {
    let token: string;
    try {
      token = await this.accessToken();
    } catch (error) {
      if (!(error instanceof TokenExchangeError)) return unreachable(error);
      // invalid_grant / unauthorized_client or an unusable key: retrying will not help.
      const retry = error.status === 0 || error.status === 429 || error.status >= 500;
      return { outcome: retry ? "retry" : "failed", status: Math.max(0, error.status), reason: `oauth: ${error.message}` };
    }
    try {
      const res = await this.#fetch(`${this.#endpoint}/v1/projects/${encodeURIComponent(this.#account.project_id)}/messages:send`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ message: fcmMessage(target, message, this.#now()) }),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]) : AbortSignal.timeout(this.#timeoutMs),
      });
      const json = (await res.json().catch(() => ({}))) as FcmAnswer;
      if (res.ok) return { outcome: "sent", status: res.status, reason: "", providerId: typeof json.name === "string" ? json.name : "" };
      const reason = fcmErrorCode(json) || `HTTP ${res.status}`;
      if (res.status === 404 || reason === "UNREGISTERED") return { outcome: "dead_token", status: res.status, reason };
      if (res.status === 401) {
        // The access token was revoked or expired early: exchange a new one next time.
        this.#access = undefined;
        return { outcome: "retry", status: res.status, reason };
      }
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), this.#now());
      if (res.status === 429 || res.status >= 500) return { outcome: "retry", status: res.status, reason, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      return { outcome: "failed", status: res.status, reason };
    } catch (error) {
      return unreachable(error);
    }
  }

  async close(): Promise<void> {}
}

class TokenExchangeError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface FcmAnswer {
  name?: unknown;
  error?: { status?: string; details?: { "@type"?: string; errorCode?: string }[] };
}

/** FCM's `errorCode` detail (UNREGISTERED, QUOTA_EXCEEDED, ...), else the google.rpc status. */
function fcmErrorCode(answer: FcmAnswer): string {
  const detail = answer.error?.details?.find((d) => d["@type"]?.endsWith("google.firebase.fcm.v1.FcmError"));
  return detail?.errorCode ?? answer.error?.status ?? "";
}

/** The v1 `message`: a notification for the system tray, the custom keys as data (strings only). */
export function fcmMessage(target: PushTarget, message: PushMessage, now: Date): Record<string, unknown> {
  const ttl = message.expiresAt ? Math.max(0, Math.floor((message.expiresAt.getTime() - now.getTime()) / 1000)) : undefined;
  return {
    token: target.token,
    notification: { title: message.title, body: message.body },
    data: message.data,
    android: {
      priority: message.priority === "high" ? "HIGH" : "NORMAL",
      ...(message.collapseKey ? { collapse_key: message.collapseKey } : {}),
      ...(ttl === undefined ? {} : { ttl: `${ttl}s` }),
      notification: { ...(message.threadId ? { tag: message.threadId } : {}) },
    },
  };
}
