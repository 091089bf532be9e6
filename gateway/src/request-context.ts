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

// What a browser says about where a request comes from, for services that
// refuse cross-site form posts (identity's sign-in page: login CSRF). An origin
// is `null` or scheme://host[:port] (RFC 6454); anything else is dropped.
const ORIGIN = /^(?:null|[a-z][a-z0-9+.-]{0,31}:\/\/(?:[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::\d{1,5})?)$/i;
const SEC_FETCH_SITE = new Set(["cross-site", "same-origin", "same-site", "none"]);
/** Longer user agents are cut: services store them (the device of a session), not parse them. */
export const USER_AGENT_MAX = 256;

/**
 * The metadata every call carries to the service: the request id, a well-formed
 * trace context, and the browser's `origin`, `sec-fetch-site` and a bounded,
 * printable `user-agent` when the client sent them.
 */
export function callMetadataOf(request: FastifyRequest): Record<string, string> {
  const headers = request.headers;
  const metadata: Record<string, string> = { "x-request-id": request.id };
  const traceparent = headers.traceparent;
  if (typeof traceparent === "string" && TRACEPARENT.test(traceparent)) {
    metadata.traceparent = traceparent;
    const tracestate = headers.tracestate;
    if (typeof tracestate === "string" && tracestate.length <= TRACESTATE_MAX) metadata.tracestate = tracestate;
  }
  const origin = headers.origin;
  if (typeof origin === "string" && ORIGIN.test(origin)) metadata.origin = origin;
  const site = headers["sec-fetch-site"];
  if (typeof site === "string" && SEC_FETCH_SITE.has(site)) metadata["sec-fetch-site"] = site;
  const agent = headers["user-agent"];
  if (typeof agent === "string" && agent !== "") metadata["user-agent"] = printable(agent.slice(0, USER_AGENT_MAX));
  return metadata;
}

// Header values may carry tabs and Latin-1 bytes; a service logs and shows this one.
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "?");
