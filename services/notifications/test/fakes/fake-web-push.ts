// A local push service (RFC 8030) over TLS: it checks the VAPID
// authorization (RFC 8292: `vapid t=<ES256 JWT>, k=<public key>`, aud = this
// origin, exp within 24 h, a mailto:/https: sub), the TTL header and the
// aes128gcm content encoding (RFC 8188 header), and keeps the encrypted
// bodies for the test to decrypt. Answers can be scripted per subscription.
import https from "node:https";
import type { AddressInfo } from "node:net";
import { importJWK, jwtVerify } from "jose";
import type { TestCert } from "./tls.ts";

export interface WebPushReceived {
  id: string;
  body: Buffer;
  headers: Record<string, string>;
  vapidKey: string;
}

export class FakeWebPush {
  readonly received: WebPushReceived[] = [];
  readonly requests: { id: string; status: number }[] = [];
  readonly script = new Map<string, { status: number; retryAfter?: string }[]>();
  readonly #server: https.Server;
  #origin = "";

  constructor(tls: TestCert) {
    this.#server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.#handle(req, Buffer.concat(chunks)).then(({ status, retryAfter, id, text }) => {
          this.requests.push({ id, status });
          res.writeHead(status, { ...(retryAfter ? { "retry-after": retryAfter } : {}), ...(status === 201 ? { location: `${this.#origin}/message/${crypto.randomUUID()}` } : {}) });
          res.end(text ?? "");
        });
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.#origin = `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#origin;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: import("node:http").IncomingMessage, body: Buffer): Promise<{ status: number; id: string; retryAfter?: string; text?: string }> {
    const id = /^\/push\/([A-Za-z0-9_-]+)$/.exec(req.url ?? "")?.[1] ?? "";
    if (req.method !== "POST" || id === "") return { status: 404, id, text: "no such subscription" };
    const auth = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(req.headers.authorization ?? ""));
    if (!auth) return { status: 401, id, text: "missing VAPID authorization" };
    const [, jwt, k] = auth as unknown as [string, string, string];
    try {
      const point = Buffer.from(k, "base64url");
      if (point.length !== 65 || point[0] !== 4) throw new Error("key");
      const key = await importJWK({ kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") }, "ES256");
      const { payload } = await jwtVerify(jwt, key, { algorithms: ["ES256"], audience: this.#origin });
      if (typeof payload.exp !== "number" || payload.exp > Date.now() / 1000 + 24 * 3600) throw new Error("exp");
      if (typeof payload.sub !== "string" || !/^(mailto:|https:)/.test(payload.sub)) throw new Error("sub");
    } catch {
      return { status: 403, id, text: "VAPID check failed" };
    }
    if (!/^\d+$/.test(String(req.headers.ttl ?? ""))) return { status: 400, id, text: "TTL required" };
    if (req.headers["content-encoding"] !== "aes128gcm") return { status: 415, id, text: "aes128gcm required" };
    // RFC 8188 header: salt(16) rs(4) idlen(1) keyid(idlen); a sender's key id is its 65-byte ECDH public key.
    if (body.length < 21 + 65 || body[20] !== 65) return { status: 400, id, text: "bad aes128gcm header" };
    if (body.length > 4096) return { status: 413, id, text: "payload too large" };
    const scripted = this.script.get(id)?.shift();
    if (scripted) return { ...scripted, id, text: `scripted ${scripted.status}` };
    const headers: Record<string, string> = {};
    for (const [name, v] of Object.entries(req.headers)) if (v !== undefined) headers[name] = String(v);
    this.received.push({ id, body, headers, vapidKey: k });
    return { status: 201, id };
  }
}

/** RFC 8291 decryption by the user agent: what the browser does with the pushed body. */
export async function decryptWebPush(body: Buffer, ua: { ecdh: import("node:crypto").ECDH; auth: Buffer }): Promise<string> {
  const { createDecipheriv, hkdfSync } = await import("node:crypto");
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const uaPublic = ua.ecdh.getPublicKey();
  const ecdhSecret = ua.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", ecdhSecret, ua.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  const end = padded.lastIndexOf(2);
  if (end < 0 || padded.subarray(end + 1).some((b) => b !== 0)) throw new Error("bad padding");
  return padded.subarray(0, end).toString("utf8");
}
