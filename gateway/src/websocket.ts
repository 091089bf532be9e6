// WebSocket upgrades through the gateway (`GET /v1/realtime`): the access
// token is checked here like any API call's — from `Authorization: Bearer`,
// the subprotocol pair `Sec-WebSocket-Protocol: bearer, <token>` (browsers
// cannot set headers on a WebSocket) or `?access_token=` — then the socket
// goes to the realtime service with `authorization` and `x-client-ip` set, as
// call metadata would be:
//   - embedded: handed to the in-process handler (no socket hop);
//   - distributed: piped as raw bytes to a messaging instance picked from the
//     registry (another one is tried when it cannot be reached). When that
//     replica dies the client's socket closes; it reconnects and resumes.
//
//   mountRealtime(app, { verifier, upstream: { kind: "proxy", instances: () => watch.instances().map((i) => i.address) } });
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import { FlotillaError, type TokenVerifier, type UpgradeHandler } from "@flotilla/kit";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { clientIpOf } from "./plugins/edge-client-ip.ts";

export type RealtimeUpstream =
  /** The service's handler in this process (embedded runtime). */
  | { readonly kind: "inproc"; readonly handler: UpgradeHandler }
  /**
   * `http://` or `https://` addresses of the live instances (distributed
   * runtime); `connect` opens the TCP (or mutual TLS) connection to one —
   * default: plain TCP, `http://` instances only.
   */
  | { readonly kind: "proxy"; readonly instances: () => readonly string[]; readonly connect?: (target: URL) => Socket };

export interface RealtimeOptions {
  readonly upstream: RealtimeUpstream;
  /** Absent: no token check here (no key set configured); the service still verifies. */
  readonly verifier?: TokenVerifier | undefined;
  /** @default "/v1/realtime" */
  readonly path?: string;
  /** Peers whose X-Forwarded-For is believed. */
  readonly trustedProxies?: readonly string[];
  /** Instances tried per handshake before giving up with 503. @default 3 */
  readonly attempts?: number;
  /** Admits a handshake from a client address, or says how long it must wait (429). @default every one */
  readonly admit?: (ip: string) => Promise<{ retryAfterSec: number } | undefined>;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/** The access token of a handshake, wherever the client put it; `null` when one is there but malformed. */
export function handshakeToken(request: IncomingMessage, url: URL): string | null | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) return BEARER.exec(header)?.[1] ?? null;
  const protocols = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
  if (protocols[0]?.toLowerCase() === "bearer") return protocols[1] && TOKEN.test(protocols[1]) ? protocols[1] : null;
  const query = url.searchParams.get("access_token");
  if (query === null) return undefined;
  return TOKEN.test(query) ? query : null;
}

function refuse(socket: Duplex, status: number, title: string, code: string, detail: string, extra = ""): void {
  const body = JSON.stringify({ type: "about:blank", title, status, code, detail });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nconnection: close\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

/** Adds the upgrade route to the gateway's HTTP server; other upgrade paths get 404. */
export function mountRealtime(app: FastifyInstance, options: RealtimeOptions): void {
  const path = options.path ?? "/v1/realtime";
  const trusted = new Set(options.trustedProxies ?? []);
  const open = new Set<Duplex>();
  const log: FastifyBaseLogger = app.log;

  app.server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const url = new URL(request.url ?? "/", "http://gateway.invalid");
    if (url.pathname !== path) return refuse(socket, 404, "Not Found", "GW_ERR_ROUTE_NOT_FOUND", `no WebSocket endpoint at ${url.pathname}`);
    if (request.method !== "GET") return refuse(socket, 405, "Method Not Allowed", "GW_ERR_METHOD_NOT_ALLOWED", "a WebSocket handshake is a GET");
    const token = handshakeToken(request, url);
    if (!token) {
      const challenge = 'www-authenticate: Bearer realm="flotilla"\r\n';
      return refuse(socket, 401, "Unauthorized", "GW_ERR_UNAUTHENTICATED", token === null ? "the access token is malformed" : "the realtime endpoint needs an access token", challenge);
    }
    void (async () => {
      const ip = clientIpOf((socket as Socket).remoteAddress, request.headers["x-forwarded-for"], trusted);
      if (options.admit) {
        let wait: { retryAfterSec: number } | undefined;
        try {
          wait = await options.admit(ip);
        } catch (error) {
          // The limiter's store failing must not turn away every client.
          log.warn({ err: error }, "handshake rate limit unavailable; admitting");
        }
        if (wait !== undefined) {
          return refuse(socket, 429, "Too Many Requests", "GW_ERR_RATE_LIMITED", `too many WebSocket handshakes from this address; retry in ${wait.retryAfterSec} s`, `retry-after: ${wait.retryAfterSec}\r\n`);
        }
      }
      if (options.verifier) {
        try {
          await options.verifier.verify(token);
        } catch (error) {
          const known = FlotillaError.from(error);
          if (known.rpc === "unavailable") return refuse(socket, 503, "Service Unavailable", known.code, known.message, "retry-after: 1\r\n");
          return refuse(socket, 401, "Unauthorized", known.code, known.message, 'www-authenticate: Bearer realm="flotilla", error="invalid_token"\r\n');
        }
      }
      if (socket.destroyed) return;
      // What a service call would carry: the token (for the service to verify again) and the client's address.
      request.headers.authorization = `Bearer ${token}`;
      request.headers["x-client-ip"] = ip;
      url.searchParams.delete("access_token");
      request.url = `${url.pathname}${url.search}`;
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      if (options.upstream.kind === "inproc") return options.upstream.handler(request, socket, head);
      const { instances, connect: openUpstream = plainConnect } = options.upstream;
      await pipeToInstance(request, socket, head, instances, openUpstream, options.attempts ?? 3, log);
    })();
  });

  app.addHook("onClose", async () => {
    for (const socket of open) socket.destroy();
  });
}

function plainConnect(target: URL): Socket {
  if (target.protocol !== "http:") throw new Error(`${target.protocol} instances need a TLS connector`);
  return connect(Number(target.port || 80), target.hostname);
}

async function pipeToInstance(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  instances: () => readonly string[],
  open: (target: URL) => Socket,
  attempts: number,
  log: FastifyBaseLogger,
): Promise<void> {
  const tried = new Set<string>();
  for (let i = 0; i < attempts; i++) {
    const candidates = instances().filter((a) => /^https?:\/\//.test(a) && !tried.has(a));
    const address = candidates[Math.floor(Math.random() * candidates.length)];
    if (address === undefined) break;
    tried.add(address);
    const target = new URL(address);
    const upstream = await new Promise<Socket | undefined>((resolve) => {
      let s: Socket;
      try {
        s = open(target);
      } catch (error) {
        log.warn({ err: error, address }, "cannot connect to a realtime instance");
        return resolve(undefined);
      }
      s.once(s instanceof TLSSocket ? "secureConnect" : "connect", () => resolve(s));
      s.once("error", () => resolve(undefined));
    });
    if (!upstream) {
      log.debug({ address }, "realtime instance unreachable; trying another");
      continue;
    }
    if (socket.destroyed) return void upstream.destroy();
    const lines = [`GET ${request.url} HTTP/1.1`];
    for (let j = 0; j < request.rawHeaders.length; j += 2) {
      const name = request.rawHeaders[j]!.toLowerCase();
      if (name === "host" || name === "authorization" || name === "x-client-ip") continue;
      lines.push(`${request.rawHeaders[j]}: ${request.rawHeaders[j + 1]}`);
    }
    lines.push(`host: ${target.host}`, `authorization: ${request.headers.authorization}`, `x-client-ip: ${request.headers["x-client-ip"]}`);
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    // Either side ending ends both: a replica that dies closes the client's socket, which reconnects.
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
    upstream.on("close", () => socket.destroy());
    socket.on("close", () => upstream.destroy());
    upstream.pipe(socket);
    socket.pipe(upstream);
    return;
  }
  refuse(socket, 503, "Service Unavailable", "KIT_ERR_NO_INSTANCE", "no realtime instance is reachable; retry", "retry-after: 1\r\n");
}
