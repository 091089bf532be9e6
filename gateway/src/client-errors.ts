// Errors Node's HTTP parser raises before Fastify sees a request (a garbled
// request line, oversized headers, a client too slow to send its request):
// answered as RFC 9457 problems like every other error, then the connection
// is closed, since the stream can no longer be trusted to be in sync.
import type { Socket } from "node:net";
import { gatewayErrors } from "./errors.ts";
import { PROBLEM_CONTENT_TYPE, problemOf } from "./problem.ts";

function errorFor(code: string | undefined) {
  if (code === "HPE_HEADER_OVERFLOW") return gatewayErrors.create("GW_ERR_HEADERS_TOO_LARGE", "the request headers are too large");
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return gatewayErrors.create("GW_ERR_REQUEST_TIMEOUT", "the request was not received in time");
  return gatewayErrors.create("GW_ERR_BAD_REQUEST", "the request could not be parsed as HTTP/1.1");
}

/** Fastify's `clientErrorHandler`: a problem+json answer when the socket can still take one. */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // ECONNRESET and friends: the client is gone, there is no one to answer.
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy(error);
    return;
  }
  const { status, body } = problemOf(errorFor(error.code), "-");
  const payload = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${body.title}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(payload)}\r\nconnection: close\r\n\r\n${payload}`,
  );
}
