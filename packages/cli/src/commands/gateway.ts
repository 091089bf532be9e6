// The gateway as its own process (distributed runtime): discovers services in
// NATS KV and calls them with the Connect protocol over HTTP.
import { createLogger, FlotillaError } from "@flotilla/kit";
import {
  createInvoker,
  createRegistry,
  createTelemetry,
  HttpTransport,
  int,
  loadConfig,
  onShutdown,
  oneOf,
  str,
  TransportSet,
  url,
} from "@flotilla/kit/internal";
import { buildGatewayApp } from "../gateway-app.ts";

const settings = {
  host: str("FLOTILLA_GATEWAY_HOST", "127.0.0.1", "address the gateway listens on"),
  port: int("FLOTILLA_GATEWAY_PORT", 8080, "port the gateway listens on", { min: 0, max: 65535 }),
  registryUrl: url("FLOTILLA_REGISTRY_URL", "nats://127.0.0.1:4222", "service registry: nats://host:port[,…]", ["nats:"], ["memory"]),
  registryBucket: str("FLOTILLA_REGISTRY_BUCKET", "flotilla_registry", "NATS KV bucket of the registry", /^[A-Za-z0-9_-]{1,64}$/),
  bodyLimit: int("FLOTILLA_GATEWAY_BODY_LIMIT", 1_048_576, "largest accepted request body, bytes", { min: 1024, max: 64 * 1_048_576 }),
  requestTimeoutMs: int("FLOTILLA_GATEWAY_TIMEOUT_MS", 15_000, "deadline of a request through the gateway", { min: 100, max: 300_000 }),
  traceExporter: oneOf("FLOTILLA_TRACE_EXPORTER", ["none", "log"] as const, "none", "where finished spans go"),
};

export async function runGatewayProcess(): Promise<void> {
  const log = createLogger("gateway");
  let config: ReturnType<typeof loadConfig<typeof settings>>;
  try {
    config = loadConfig(settings);
  } catch (error) {
    log.fatal(FlotillaError.from(error).message);
    process.exit(78);
  }
  const telemetry = createTelemetry({ serviceName: "gateway", exporter: config.traceExporter });
  const registry = await createRegistry(config.registryUrl, { bucket: config.registryBucket });
  const transports = new TransportSet([new HttpTransport()]);
  const invoker = createInvoker({ registry, transports, telemetry });
  let ready = true;
  const gateway = buildGatewayApp({
    invoke: invoker.invoke,
    log,
    telemetry,
    ready: () => ready,
    bodyLimit: config.bodyLimit,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  const address = await gateway.listen({ port: config.port, host: config.host });
  log.info(`gateway listening on ${address}`);

  onShutdown(log, async () => {
    ready = false;
    await gateway.close();
    invoker.close();
    await registry.close();
    await transports.close();
    await telemetry.shutdown();
  });
}
