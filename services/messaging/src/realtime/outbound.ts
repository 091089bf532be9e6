// A server frame encoded ONCE for every socket it goes to. A fan-out of one
// message to 10 000 sockets serialises it, encodes it to UTF-8 and builds the
// WebSocket frame once; each socket then only writes the same bytes (one
// `write` each instead of ws's cork + two writes, and no per-socket encoding).
//
//   const out = outboundOf({ type: "presence", user_id: "u1", online: true });
//   for (const ws of sockets) sendOutbound(ws, out);
import type { WebSocket } from "ws";

export interface Outbound {
  /** The frame's JSON in UTF-8: what `ws.send` gets when the ready-made frame cannot be used. */
  readonly data: Uint8Array;
  /** `data` as one complete text frame, server to client (FIN, opcode 1, no mask; RFC 6455 §5.2). */
  readonly framed: Buffer;
}

/** `json` is the frame's JSON in UTF-8 (copied: the caller may reuse its buffer). */
export function outbound(json: Uint8Array): Outbound {
  const length = json.length;
  const head = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const framed = Buffer.allocUnsafe(head + length);
  framed[0] = 0x81;
  if (length < 126) {
    framed[1] = length;
  } else if (length < 65_536) {
    framed[1] = 126;
    framed.writeUInt16BE(length, 2);
  } else {
    framed[1] = 127;
    framed.writeBigUInt64BE(BigInt(length), 2);
  }
  framed.set(json, head);
  return { data: framed.subarray(head), framed };
}

export function outboundOf(frame: object): Outbound {
  return outbound(Buffer.from(JSON.stringify(frame)));
}

// ws internals (ws 8.23 when written; lib/sender.js and lib/websocket.js):
// `_sender.sendFrame(list)` writes ready-made frames to the socket, and
// `_sender._state === 0` (DEFAULT) means nothing (a compression, a Blob) is
// queued ahead that the frame could overtake. The frame is unmasked, so only
// for a server's socket (`_isServer`). Not public API: when any of it is not
// as expected, `ws.send` frames the bytes itself. Either way the socket's
// writable buffer holds what is unsent, so `bufferedAmount` (slow-consumer
// backpressure) counts it.
interface SocketInternals {
  readonly _isServer?: unknown;
  readonly _sender?: { readonly _state?: unknown; readonly sendFrame?: (list: Buffer[]) => void } | null;
}

/** Sends a prepared frame on an OPEN socket. */
export function sendOutbound(ws: WebSocket, out: Outbound): void {
  const internals = ws as unknown as SocketInternals;
  const sender = internals._sender;
  if (internals._isServer === true && sender?._state === 0 && typeof sender.sendFrame === "function") {
    sender.sendFrame([out.framed]);
  } else {
    ws.send(out.data, { binary: false });
  }
}
