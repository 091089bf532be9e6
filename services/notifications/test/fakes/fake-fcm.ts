// A local FCM: an OAuth token endpoint that verifies the service account's
// JWT assertion (RS256 against the account's public key, iss, aud = this
// token URI, scope, lifetime ≤ 1 h) and the HTTP v1 send endpoint, which
// checks the bearer, the project, the message shape and the 4 KB data limit.
// Errors answer in FCM's shape and can be scripted per device token.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { importSPKI, jwtVerify } from "jose";

export interface FcmScripted {
  status: number;
  /** google.rpc status, e.g. NOT_FOUND, UNAVAILABLE */
  rpcStatus: string;
  /** FcmError errorCode, e.g. UNREGISTERED, QUOTA_EXCEEDED */
  errorCode?: string;
  retryAfter?: string;
}

export interface FakeFcmOptions {
  projectId: string;
  clientEmail: string;
  /** SPKI PEM of the service account's public key. */
  publicKey: string;
  /** Lifetime of issued access tokens. @default 3600 */
  expiresIn?: number;
}

export class FakeFcm {
  readonly messages: { token: string; message: Record<string, unknown>; bearer: string }[] = [];
  readonly requests: { token: string; status: number }[] = [];
  readonly script = new Map<string, FcmScripted[]>();
  /** Token exchanges done, and assertions refused. */
  exchanges = 0;
  refusedAssertions = 0;
  readonly #issued = new Set<string>();
  readonly #server: http.Server;
  readonly #o: FakeFcmOptions;
  #url = "";

  constructor(options: FakeFcmOptions) {
    this.#o = options;
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.#route(req, Buffer.concat(chunks)).then(({ status, body, headers }) => {
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify(body));
        });
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#url;
  }

  get tokenUri(): string {
    return `${this.#url}/token`;
  }

  /** Forgets issued access tokens, as if they had been revoked. */
  revokeAll(): void {
    this.#issued.clear();
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #route(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    if (req.method === "POST" && req.url === "/token") return this.#token(req, body);
    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? "");
    if (req.method === "POST" && send) return this.#send(req, decodeURIComponent(send[1]!), body);
    return rpcError(404, "NOT_FOUND", "no such endpoint");
  }

  async #token(req: http.IncomingMessage, body: Buffer) {
    if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) return { status: 400, body: { error: "invalid_request" } };
    const form = new URLSearchParams(body.toString("utf8"));
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return { status: 400, body: { error: "unsupported_grant_type" } };
    try {
      const key = await importSPKI(this.#o.publicKey, "RS256");
      const { payload } = await jwtVerify(form.get("assertion") ?? "", key, { algorithms: ["RS256"], issuer: this.#o.clientEmail, audience: this.tokenUri });
      const scopes = String(payload.scope ?? "").split(" ");
      if (!scopes.includes("https://www.googleapis.com/auth/firebase.messaging")) throw new Error("scope");
      if (typeof payload.iat !== "number" || typeof payload.exp !== "number" || payload.exp - payload.iat > 3600) throw new Error("lifetime");
    } catch {
      this.refusedAssertions += 1;
      return { status: 400, body: { error: "invalid_grant", error_description: "Invalid JWT Signature." } };
    }
    this.exchanges += 1;
    const token = `ya29.fake-${crypto.randomUUID()}`;
    this.#issued.add(token);
    return { status: 200, body: { access_token: token, expires_in: this.#o.expiresIn ?? 3600, token_type: "Bearer" } };
  }

  async #send(req: http.IncomingMessage, project: string, body: Buffer) {
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
    if (!this.#issued.has(bearer)) return rpcError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    if (project !== this.#o.projectId) return rpcError(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH");
    let message: Record<string, unknown>;
    try {
      message = (JSON.parse(body.toString("utf8")) as { message: Record<string, unknown> }).message;
    } catch {
      return rpcError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    }
    const token = typeof message?.token === "string" ? message.token : "";
    if (token === "") return rpcError(400, "INVALID_ARGUMENT", "Recipient of the message is not set.", "INVALID_ARGUMENT");
    const data = (message.data ?? {}) as Record<string, unknown>;
    if (Object.values(data).some((v) => typeof v !== "string")) return rpcError(400, "INVALID_ARGUMENT", "data values must be strings", "INVALID_ARGUMENT");
    const size = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
    if (size > 4096 || body.length > 4096 + 1024) return rpcError(400, "INVALID_ARGUMENT", "Message is too big", "INVALID_ARGUMENT");
    const scripted = this.script.get(token)?.shift();
    if (scripted) {
      this.requests.push({ token, status: scripted.status });
      return rpcError(scripted.status, scripted.rpcStatus, "scripted", scripted.errorCode, scripted.retryAfter);
    }
    this.requests.push({ token, status: 200 });
    this.messages.push({ token, message, bearer });
    return { status: 200, body: { name: `projects/${project}/messages/${this.messages.length}` } };
  }
}

function rpcError(status: number, rpcStatus: string, message: string, errorCode?: string, retryAfter?: string) {
  return {
    status,
    headers: retryAfter === undefined ? undefined : { "retry-after": retryAfter },
    body: {
      error: {
        code: status,
        message,
        status: rpcStatus,
        details: errorCode ? [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }] : [],
      },
    },
  };
}
