// A 413 goes out only once the rest of the request's body has arrived (read
// and dropped), as nginx's lingering close does: answering at once and
// closing made a client still sending — with a Content-Length over the limit
// or a chunked body that passed it — see a reset (EPIPE, ECONNRESET) instead
// of the 413. Reading is bounded: beyond DRAIN_FACTOR × the limit, or after
// DRAIN_MS, the gateway answers and closes.
import type { IncomingMessage } from "node:http";

const DRAIN_FACTOR = 8;
const DRAIN_MS = 5_000;

/** Reads and drops a request's body: true once all of it arrived, false past `maxBytes` or `maxMs`, or on an error. */
export function drainBody(request: IncomingMessage, maxBytes: number, maxMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const settle = (complete: boolean) => {
      clearTimeout(timer);
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onFailure);
      request.off("close", onFailure);
      resolve(complete);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) settle(false);
    };
    const onEnd = () => settle(true);
    const onFailure = () => settle(false);
    const timer = setTimeout(onFailure, maxMs);
    request.on("data", onData);
    request.once("end", onEnd);
    request.once("error", onFailure);
    request.once("close", onFailure);
  });
}

/**
 * Before a 413: the rest of an oversized body read and dropped. False when it
 * could not be (too large, too slow, gone): the connection must then close.
 */
export async function finishOversizedBody(request: IncomingMessage, bodyLimit: number): Promise<boolean> {
  if (request.complete) return true;
  const maxBytes = DRAIN_FACTOR * bodyLimit;
  if (Number(request.headers["content-length"]) > maxBytes) return false;
  return drainBody(request, maxBytes, DRAIN_MS);
}
