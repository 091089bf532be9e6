// A request whose declared body is over the limit is answered 413 only once
// its body has arrived (read and dropped), as nginx's lingering close does.
// Answering at once and closing made a client still sending see a reset
// (EPIPE, ECONNRESET) instead of the 413. Reading is bounded: beyond
// DRAIN_FACTOR × the limit, or after DRAIN_MS, the gateway answers and closes.
import type { IncomingMessage } from "node:http";
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { gatewayErrors } from "./errors.ts";

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

/** An onRequest hook: a body declared over `bodyLimit` becomes GW_ERR_PAYLOAD_TOO_LARGE after it was drained. */
export function refuseOversizedBodies(bodyLimit: number) {
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const declared = Number(request.headers["content-length"]);
    if (!(declared > bodyLimit)) {
      done();
      return;
    }
    const error = gatewayErrors.create("GW_ERR_PAYLOAD_TOO_LARGE", `the request body is larger than the limit of ${bodyLimit} bytes`);
    const maxBytes = DRAIN_FACTOR * bodyLimit;
    const answer = (complete: boolean) => {
      if (!complete) reply.header("connection", "close");
      done(error);
    };
    if (declared > maxBytes) answer(false);
    else void drainBody(request.raw, maxBytes, DRAIN_MS).then(answer);
  };
}
