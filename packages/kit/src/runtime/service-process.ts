// One service in its own process (the distributed runtime): PostgreSQL for its
// data, NATS KV for discovery, the Connect protocol over HTTP for calls.
//
//   // services/catalog/src/main.ts
//   await runServiceProcess(catalogService);
import { randomBytes } from "node:crypto";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { connect } from "@nats-io/transport-node";
import { createBroadcast } from "../broadcast/index.ts";
import { createBus } from "../bus/index.ts";
import { createDatabaseProvider } from "../db/index.ts";
import { FlotillaError } from "../errors/index.ts";
import { createLogger } from "../log/logger.ts";
import { createRegistry } from "../registry/index.ts";
import { type CertSource, fileCertSource } from "../security/mtls/cert-source.ts";
import { MtlsTransport } from "../security/mtls/mtls-transport.ts";
import { callerOfRequest, createMtlsServer } from "../security/mtls/tls-server.ts";
import type { ServiceDefinition } from "../service/types.ts";
import { createTelemetry, serverTelemetry } from "../telemetry/index.ts";
import { createRpcHandler } from "../transport/http-server.ts";
import { createNetworkTransports, TransportSet } from "../transport/transport-set.ts";
import type { Router } from "../transport/router.ts";
import { startNatsRpcServer } from "../transport/nats-rpc-server.ts";
import { hostService } from "./host-service.ts";
import { createInvoker } from "./invoker.ts";
import { handleOps, opsOnlyListener } from "./ops-endpoints.ts";
import { loadServiceProcessConfig, parseLabels } from "./process-config.ts";
import { securityInterceptors } from "./security.ts";
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
  // The service's certificate (mTLS): its SPIFFE ID must name this service.
  let certs: CertSource | undefined;
  if (config.mtls === "on") {
    try {
      certs = fileCertSource(config.tlsDir);
    } catch (error) {
      log.fatal(`FLOTILLA_TLS_DIR: ${FlotillaError.from(error).message}`);
      process.exit(78);
    }
    if (certs.service !== definition.name) {
      log.fatal(`FLOTILLA_TLS_DIR holds the certificate of "${certs.service}", not of "${definition.name}"`);
      process.exit(78);
    }
  }

  const telemetry = createTelemetry({ serviceName: definition.name, exporter: config.traceExporter });
  const provider = createDatabaseProvider(config.databaseUrl, { databasePrefix: config.databasePrefix });
  const bus = await createBus(config.busUrl, { stream: config.busStream, subjectPrefix: config.busSubjectPrefix });
  const broadcast = await createBroadcast(config.broadcastUrl);
  const registry = await createRegistry(config.registryUrl, { bucket: config.registryBucket });
  // Calls this service makes (identity's key set, for zero trust) carry its own identity.
  const network = await createNetworkTransports(config.rpcTransport === "nats" ? { natsUrl: config.rpcNatsUrl } : {});
  const transports = certs ? new TransportSet([new MtlsTransport(certs), network]) : network;
  const invoker = createInvoker({ registry, transports, telemetry, caller: definition.name });
  const security = securityInterceptors({ ...config, invoke: invoker.invoke });
  const hosted = await hostService(definition, { provider, bus, broadcast, invoke: invoker.invoke, log, mode: "distributed", interceptors: [serverTelemetry(telemetry), ...security], metrics: telemetry.registry }).catch((error: unknown) => {
    // A service reading its own settings (e.g. FLOTILLA_MASTER_KEY) stops with EX_CONFIG too.
    if (error instanceof FlotillaError && error.code === "KIT_ERR_CONFIG_INVALID") {
      log.fatal(error.message);
      process.exit(78);
    }
    throw error;
  });
  const rpc = createRpcHandler(hosted.router, certs ? { callerOf: callerOfRequest } : {});

  let ready = false;
  const listener: RequestListener = (req, res) => {
    if (handleOps(req, res, { ready: () => ready, metrics: telemetry.registry })) return;
    rpc.handle(req, res);
  };
  const server = certs ? createMtlsServer(certs, listener) : createServer(listener);
  const scheme = certs ? "https" : "http";
  server.keepAliveTimeout = 65_000;
  // WebSockets (the gateway pipes `/v1/realtime` here): the service's handler, or nothing.
  server.on("upgrade", (req, socket, head) => {
    if (ready && hosted.upgrade) hosted.upgrade(req, socket, head);
    else socket.end("HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const port = (server.address() as AddressInfo).port;
  const ops = config.opsPort === "" ? undefined : createServer(opsOnlyListener({ ready: () => ready, metrics: telemetry.registry }));
  if (ops) await new Promise<void>((resolve) => ops.listen(Number(config.opsPort), config.host, resolve));
  const opsLabel: Record<string, string> = ops ? { ops: `http://${config.host}:${(ops.address() as AddressInfo).port}` } : {};

  const id = `${definition.name}-${randomBytes(4).toString("hex")}`;
  // FLOTILLA_RPC_TRANSPORT=nats: callers reach this instance over NATS (micro
  // protocol); the HTTP server stays for /livez, /readyz, /metrics and curl.
  const natsRpc = config.rpcTransport === "nats" ? await startNatsRpc(hosted.router, definition.name, id, config) : undefined;
  const registration = await registry.register({
    id,
    service: definition.name,
    version: config.version,
    address: natsRpc?.server.address ?? `${scheme}://${config.host}:${port}`,
    // `http`: where /livez, /readyz and /metrics answer, whatever transport carries calls.
    labels: { ...parseLabels(config.labels), pid: String(process.pid), http: `${scheme}://${config.host}:${port}`, ...opsLabel },
    startedAt: Date.now(),
  });
  ready = true;
  log.info({ id, port, version: config.version }, `${definition.name} listening on ${scheme}://${config.host}:${port}${certs ? " (mTLS)" : ""}`);

  onShutdown(log, async () => {
    // Leave the registry first so callers stop choosing us, keep serving while
    // their views catch up, then finish what is in flight.
    ready = false;
    await registration.deregister().catch((error: unknown) => log.warn({ err: error }, "deregister failed"));
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all([rpc.drain(config.drainTimeoutMs), natsRpc?.server.drain(config.drainTimeoutMs)]);
    if (natsRpc !== undefined) {
      await natsRpc.server.close(0);
      await natsRpc.connection.close();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    ops?.close();
    ops?.closeAllConnections();
    invoker.close();
    await transports.close();
    certs?.close();
    await registry.close();
    await hosted.stop();
    await broadcast.close();
    await bus.close();
    await provider.close();
    await telemetry.shutdown();
  });
}

async function startNatsRpc(router: Router, name: string, id: string, config: ReturnType<typeof loadServiceProcessConfig>) {
  const servers = config.rpcNatsUrl.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const connection = await connect({ servers, name: `flotilla-rpc-${id}` });
  const server = await startNatsRpcServer({ router, connection, name, id, version: config.version, prefix: config.rpcSubjectPrefix });
  return { connection, server };
}
