// A local APNs that checks what Apple checks: HTTP/2 over TLS, POST
// /3/device/<hex token>, a provider token (ES256 JWT, kid, iss = team id,
// iat within the last hour) verified against the key's public half, the
// apns-* headers, a JSON payload with `aps` of at most 4096 bytes. Any answer
// can be scripted per token.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import type { TestCert } from "./tls.ts";

export interface ApnsPush {
  token: string;
  headers: Record<string, string>;
  payload: Record<string, unknown>;
  jwt: string;
}

export interface ScriptedAnswer {
  status: number;
  reason?: string;
  retryAfter?: string;
}

export interface FakeApnsOptions {
  tls: TestCert;
  /** SPKI PEM of the .p8 key's public half. */
  publicKey: string;
  keyId: string;
  teamId: string;
  topic: string;
}

const PUSH_TYPES = new Set(["alert", "background", "voip", "complication", "fileprovider", "mdm", "location", "liveactivity", "pushtotalk"]);

export class FakeApns {
  readonly pushes: ApnsPush[] = [];
  /** Every request, accepted or not, with the answer given. */
  readonly requests: { token: string; status: number; reason: string }[] = [];
  /** Answers to give, per token, before accepting again (first in, first out). */
  readonly script = new Map<string, ScriptedAnswer[]>();
  /** Distinct provider tokens seen. */
  readonly jwts = new Set<string>();
  readonly #server: http2.Http2SecureServer;
  readonly #o: FakeApnsOptions;
  #key: ReturnType<typeof importSPKI> | undefined;

  constructor(options: FakeApnsOptions) {
    this.#o = options;
    this.#server = http2.createSecureServer({ key: options.tls.key, cert: options.tls.cert, allowHTTP1: false });
    this.#server.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        void this.#handle(headers, Buffer.concat(chunks)).then(({ status, reason, retryAfter, token }) => {
          this.requests.push({ token, status, reason: reason ?? "" });
          const out: http2.OutgoingHttpHeaders = { ":status": status, "apns-id": crypto.randomUUID().toUpperCase() };
          if (retryAfter !== undefined) out["retry-after"] = retryAfter;
          if (status === 200) {
            stream.respond(out, { endStream: true });
          } else {
            stream.respond({ ...out, "content-type": "application/json" });
            stream.end(JSON.stringify({ reason, ...(status === 410 ? { timestamp: Date.now() } : {}) }));
          }
        });
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(h: http2.IncomingHttpHeaders, body: Buffer): Promise<ScriptedAnswer & { token: string }> {
    const path = String(h[":path"] ?? "");
    const token = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(path)?.[1] ?? "";
    const fail = (status: number, reason: string) => ({ status, reason, token });
    if (h[":method"] !== "POST") return fail(405, "MethodNotAllowed");
    if (token === "") return fail(400, "BadPath");
    const auth = String(h.authorization ?? "");
    if (!auth.startsWith("bearer ")) return fail(403, "MissingProviderToken");
    const jwt = auth.slice(7);
    try {
      const header = decodeProtectedHeader(jwt);
      if (header.alg !== "ES256" || header.kid !== this.#o.keyId) return fail(403, "InvalidProviderToken");
      this.#key ??= importSPKI(this.#o.publicKey, "ES256");
      const { payload } = await jwtVerify(jwt, await this.#key, { algorithms: ["ES256"], issuer: this.#o.teamId });
      if (typeof payload.iat !== "number") return fail(403, "InvalidProviderToken");
      if (Date.now() / 1000 - payload.iat > 3600) return fail(403, "ExpiredProviderToken");
    } catch {
      return fail(403, "InvalidProviderToken");
    }
    this.jwts.add(jwt);
    if (!h["apns-topic"]) return fail(400, "MissingTopic");
    if (h["apns-topic"] !== this.#o.topic) return fail(400, "DeviceTokenNotForTopic");
    if (!PUSH_TYPES.has(String(h["apns-push-type"] ?? ""))) return fail(400, "InvalidPushType");
    if (h["apns-priority"] !== undefined && !["5", "10"].includes(String(h["apns-priority"]))) return fail(400, "BadPriority");
    if (h["apns-expiration"] !== undefined && !/^\d+$/.test(String(h["apns-expiration"]))) return fail(400, "BadExpirationDate");
    if (h["apns-collapse-id"] !== undefined && Buffer.byteLength(String(h["apns-collapse-id"])) > 64) return fail(400, "BadCollapseId");
    if (body.length > 4096) return fail(413, "PayloadTooLarge");
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    } catch {
      return fail(400, "PayloadEmpty");
    }
    if (typeof payload.aps !== "object" || payload.aps === null) return fail(400, "PayloadEmpty");
    const scripted = this.script.get(token.toLowerCase())?.shift();
    if (scripted) return { ...scripted, token };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) headers[k] = String(v);
    this.pushes.push({ token, headers, payload, jwt });
    return { status: 200, token };
  }
}
