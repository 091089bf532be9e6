import { type FastifyReply, type FastifyRequest, LogController } from "fastify";

/**
 * Replaces Fastify's two lines per request ("incoming", "completed") with one
 * access line when the response is done: method, route, status, ms; the
 * request id comes from the child logger's `requestId` binding.
 */
export class AccessLog extends LogController {
  constructor(enabled: boolean) {
    super({ disableRequestLogging: !enabled, requestIdLogLabel: "requestId" });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      path: request.url.split("?", 1)[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) request.log.warn({ ...line, err: error }, "access");
    else request.log.info(line, "access");
  }

  // The gateway's error and not-found handlers answer and log; the access line covers them.
  override routeNotFound(): void {}
  override defaultErrorLog(): void {}
}
