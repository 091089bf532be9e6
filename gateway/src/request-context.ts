import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyRequest } from "fastify";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
// W3C trace context, version 00: anything else is dropped rather than passed
// on, so a client cannot feed garbage into every service's tracer.
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACESTATE_MAX = 512;

/** The client's `x-request-id` when it is safe to log and echo, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers["x-request-id"];
  return typeof header === "string" && REQUEST_ID.test(header) ? header : randomUUID();
}

/** The metadata every call carries to the service. */
export function callMetadataOf(request: FastifyRequest): Record<string, string> {
  const metadata: Record<string, string> = { "x-request-id": request.id };
  const traceparent = request.headers.traceparent;
  if (typeof traceparent === "string" && TRACEPARENT.test(traceparent)) {
    metadata.traceparent = traceparent;
    const tracestate = request.headers.tracestate;
    if (typeof tracestate === "string" && tracestate.length <= TRACESTATE_MAX) metadata.tracestate = tracestate;
  }
  return metadata;
}
