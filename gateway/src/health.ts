import type { FastifyInstance } from "fastify";
import { gatewayErrors } from "./errors.ts";

/**
 * `/livez` answers while the process can serve HTTP at all; `/readyz` asks
 * `ready()` (dependencies up, not draining) and is a 503 problem otherwise.
 */
export function registerHealthRoutes(app: FastifyInstance, ready: () => boolean | Promise<boolean>): void {
  app.get("/livez", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return { status: "ok" };
  });
  app.get("/readyz", async (request, reply) => {
    reply.header("cache-control", "no-store");
    let isReady = false;
    try {
      isReady = await ready();
    } catch (error) {
      request.log.warn({ err: error }, "readiness check failed");
    }
    if (!isReady) throw gatewayErrors.create("GW_ERR_NOT_READY", "the gateway is not ready to take traffic");
    return { status: "ready" };
  });
}
