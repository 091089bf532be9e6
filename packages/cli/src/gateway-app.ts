// The gateway as both runtimes build it: contracts, traces, /metrics.
import { allServices } from "@flotilla/contracts";
import { createGateway, type GatewayPlugin, type Invoke } from "@flotilla/gateway";
import type { Logger } from "@flotilla/kit";
import { fastifyTelemetry, METRICS_CONTENT_TYPE, metricsText, type Telemetry } from "@flotilla/kit/internal";
import type { FastifyInstance } from "fastify";

export interface GatewayAppOptions {
  invoke: Invoke;
  log: Logger;
  telemetry: Telemetry;
  ready: () => boolean;
  bodyLimit?: number;
  requestTimeoutMs?: number;
}

export function buildGatewayApp(options: GatewayAppOptions): FastifyInstance {
  const app = createGateway({
    services: allServices,
    invoke: options.invoke,
    logger: options.log,
    ready: options.ready,
    info: { title: "Flotilla API", version: "0.1.0" },
    plugins: [tracing(options.telemetry)],
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
  });
  app.get("/metrics", async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await metricsText(options.telemetry.registry)));
  return app;
}

/** An HTTP span per API request, and its trace context on the service call. */
function tracing(telemetry: Telemetry): GatewayPlugin {
  const hooks = fastifyTelemetry(telemetry);
  return (api) => {
    hooks(api);
    api.addHook("preHandler", async (request) => {
      Object.assign(request.callMetadata, request.traceMetadata);
    });
  };
}
