// One service in its own process (the distributed runtime): PostgreSQL for its
// data, NATS KV for discovery, the Connect protocol over HTTP for calls.
//
//   // services/catalog/src/main.ts
//   await runServiceProcess(catalogService);
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { createBus } from "../bus/index.ts";
import { createDatabaseProvider } from "../db/index.ts";
import { FlotillaError } from "../errors/index.ts";
import { createLogger } from "../log/logger.ts";
import { createRegistry } from "../registry/index.ts";
import type { ServiceDefinition } from "../service/types.ts";
import { createTelemetry, serverTelemetry } from "../telemetry/index.ts";
import { createRpcHandler } from "../transport/http-server.ts";
import { hostService } from "./host-service.ts";
import { handleOps } from "./ops-endpoints.ts";
import { loadServiceProcessConfig, parseLabels } from "./process-config.ts";
import { onShutdown } from "./shutdown.ts";

export async function runServiceProcess<S extends DescService>(definition: ServiceDefinition<S>): Promise<void> {
  const log = createLogger(definition.name);
  let config: ReturnType<typeof loadServiceProcessConfig>;
  try {
    config = loadServiceProcessConfig();
  } catch (error) {
    log.fatal(FlotillaError.from(error).message);
    process.exit(78); // EX_CONFIG
  }

  const telemetry = createTelemetry({ serviceName: definition.name, exporter: config.traceExporter });
  const provider = createDatabaseProvider(config.databaseUrl, { databasePrefix: config.databasePrefix });
  const bus = await createBus(config.busUrl, { stream: config.busStream, subjectPrefix: config.busSubjectPrefix });
  const hosted = await hostService(definition, { provider, bus, log, mode: "distributed", interceptors: [serverTelemetry(telemetry)] });
  const rpc = createRpcHandler(hosted.router);

  let ready = false;
  const server = createServer((req, res) => {
    if (handleOps(req, res, { ready: () => ready, metrics: telemetry.registry })) return;
    rpc.handle(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const port = (server.address() as AddressInfo).port;

  const registry = await createRegistry(config.registryUrl, { bucket: config.registryBucket });
  const id = `${definition.name}-${randomBytes(4).toString("hex")}`;
  const registration = await registry.register({
    id,
    service: definition.name,
    version: config.version,
    address: `http://${config.host}:${port}`,
    labels: { ...parseLabels(config.labels), pid: String(process.pid) },
    startedAt: Date.now(),
  });
  ready = true;
  log.info({ id, port, version: config.version }, `${definition.name} listening on http://${config.host}:${port}`);

  onShutdown(log, async () => {
    // Leave the registry first so callers stop choosing us, keep serving while
    // their views catch up, then finish what is in flight.
    ready = false;
    await registration.deregister().catch((error: unknown) => log.warn({ err: error }, "deregister failed"));
    await new Promise((r) => setTimeout(r, 300));
    await rpc.drain(config.drainTimeoutMs);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await registry.close();
    await hosted.stop();
    await bus.close();
    await provider.close();
    await telemetry.shutdown();
  });
}
