// The WebSocket endpoint `/v1/realtime`: authenticates the access token again
// (the gateway checked it; zero trust), subscribes the user's feed, then
// completes the handshake and hands the socket to the hub.
//
// The token may come as `Authorization: Bearer <t>` (what the gateway
// forwards), as the subprotocol pair `Sec-WebSocket-Protocol: bearer, <t>`
// (browsers cannot set headers on a WebSocket), or as `?access_token=<t>`.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger, UpgradeHandler } from "@flotilla/kit";
import { WebSocketServer } from "ws";
import { type Authenticate, bearerOf } from "../auth.ts";
import type { RealtimeHub } from "./hub.ts";

export const REALTIME_PATH = "/v1/realtime";

/** The access token of a WebSocket handshake, wherever the client put it. */
export function handshakeToken(request: IncomingMessage): string | undefined {
  const header = bearerOf(request.headers.authorization);
  if (header) return header;
  const protocols = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
  if (protocols[0]?.toLowerCase() === "bearer" && protocols[1]) return protocols[1];
  const query = new URL(request.url ?? "/", "http://localhost").searchParams.get("access_token");
  return query || undefined;
}

function refuse(socket: Duplex, status: number, reason: string, code: string): void {
  const body = JSON.stringify({ type: "about:blank", title: reason, status, code });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

// Module-level on purpose: a listener created inside the upgrade handler would
// share its closure scope and keep the request (headers, token) and `head` alive
// for as long as the socket lives — about 2 KB per connection.
function destroyOnError(this: Duplex): void {
  this.destroy();
}

export function realtimeUpgrade(options: { hub: RealtimeHub; authenticate: Authenticate; log: Logger; maxFrameBytes: number }): UpgradeHandler {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    // Answer the `bearer` subprotocol when the token came that way, as RFC 6455 requires.
    handleProtocols: (protocols) => (protocols.has("bearer") ? "bearer" : false),
  });
  return (request, socket, head) => {
    socket.on("error", destroyOnError);
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== REALTIME_PATH) return refuse(socket, 404, "Not Found", "KIT_ERR_UNIMPLEMENTED");
    const token = handshakeToken(request);
    if (!token) return refuse(socket, 401, "Unauthorized", "MESSAGING_ERR_UNAUTHENTICATED");
    void (async () => {
      let userId: string;
      try {
        userId = (await options.authenticate(token, "socket")).subject;
      } catch (error) {
        const code = (error as { code?: string }).code ?? "MESSAGING_ERR_UNAUTHENTICATED";
        const unavailable = code === "KIT_ERR_JWKS_UNAVAILABLE";
        return refuse(socket, unavailable ? 503 : 401, unavailable ? "Service Unavailable" : "Unauthorized", code);
      }
      let release: () => void;
      try {
        release = await options.hub.prepare(userId);
      } catch (error) {
        options.log.warn({ err: error }, "realtime subscription failed");
        return refuse(socket, 503, "Service Unavailable", "MESSAGING_ERR_REALTIME_UNAVAILABLE");
      }
      if (socket.destroyed) return release();
      // ws completes (or refuses, 400) the handshake synchronously: no callback means no socket.
      let attached = false;
      wss.handleUpgrade(request, socket, head, (ws) => {
        attached = true;
        options.hub.attach(ws, userId);
      });
      if (!attached) release();
    })();
  };
}
