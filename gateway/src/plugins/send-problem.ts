// Plugins that answer a request themselves (429, 409, 503 ...) write the same
// RFC 9457 body as the error handler, but with headers the error handler does
// not know about (an exact `Retry-After`, the `RateLimit-*` set).
import type { FlotillaError } from "@flotilla/kit";
import type { FastifyReply, FastifyRequest } from "fastify";
import { PROBLEM_CONTENT_TYPE, problemOf } from "../problem.ts";

/** Sends `error` as problem+json now; `headers` win over the defaults (`retry-after: 1`). */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: FlotillaError, headers: Record<string, string> = {}): FastifyReply {
  const problem = problemOf(error, request.id);
  return reply
    .code(problem.status)
    .headers({ ...problem.headers, ...headers })
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem.body));
}
