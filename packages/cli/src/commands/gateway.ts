// The gateway as its own process (distributed runtime): discovers services in
// NATS KV and calls them with the Connect protocol over HTTP.
import { connect as tlsConnect } from "node:tls";
import { createLogger, FlotillaError } from "@flotilla/kit";
import {
  createInvoker,
  createNetworkTransports,
  createRegistry,
  createTelemetry,
  fileCertSource,
  int,
  MtlsTransport,
  loadConfig,
  onShutdown,
  oneOf,
  serviceOfPeerCertificate,
  str,
  TransportSet,
  url,
} from "@flotilla/kit/internal";
import { loadGatewayConfig, runWorkers } from "@flotilla/gateway";
import { buildGatewayApp } from "../gateway-app.ts";

const settings = {
  host: str("FLOTILLA_GATEWAY_HOST", "127.0.0.1", "address the gateway listens on"),
  port: int("FLOTILLA_GATEWAY_PORT", 8080, "port the gateway listens on", { min: 0, max: 65535 }),
  registryUrl: url("FLOTILLA_REGISTRY_URL", "nats://127.0.0.1:4222", "service registry: nats://host:port[,…]", ["nats:"], ["memory"]),
  registryBucket: str("FLOTILLA_REGISTRY_BUCKET", "flotilla_registry", "NATS KV bucket of the registry", /^[A-Za-z0-9_-]{1,64}$/),
  bodyLimit: int("FLOTILLA_GATEWAY_BODY_LIMIT", 1_048_576, "largest accepted request body, bytes", { min: 1024, max: 64 * 1_048_576 }),
  requestTimeoutMs: int("FLOTILLA_GATEWAY_TIMEOUT_MS", 15_000, "deadline of a request through the gateway", { min: 100, max: 300_000 }),
  rpcNatsUrl: url("FLOTILLA_RPC_NATS_URL", "nats://127.0.0.1:4222", "NATS server(s) for calling services that advertise nats: addresses (FLOTILLA_RPC_TRANSPORT=nats), or none", ["nats:"], ["none"]),
  traceExporter: oneOf("FLOTILLA_TRACE_EXPORTER", ["none", "log"] as const, "none", "where finished spans go"),
  mtls: oneOf("FLOTILLA_MTLS", ["off", "on"] as const, "off", "call services over mutual TLS with the gateway's certificate (needs FLOTILLA_TLS_DIR)"),
  tlsDir: str("FLOTILLA_TLS_DIR", "", "folder with the gateway's tls.crt, tls.key and the platform ca.crt"),
};

export async function runGatewayProcess(): Promise<void> {
  const log = createLogger("gateway");
  // `server.workers` (FLOTILLA_GATEWAY_WORKERS): that many processes share the port.
  let workers: number;
  try {
    workers = loadGatewayConfig().server.workers;
  } catch (error) {
    log.fatal(FlotillaError.from(error).message);
    process.exit(78);
  }
  await runWorkers({ workers, log }, () => serveGateway(log)).catch((error: unknown) => {
    log.fatal(FlotillaError.from(error).message);
    process.exit(1);
  });
}

async function serveGateway(log: ReturnType<typeof createLogger>): Promise<void> {
  let config: ReturnType<typeof loadConfig<typeof settings>>;
  try {
    config = loadConfig(settings);
  } catch (error) {
    log.fatal(FlotillaError.from(error).message);
    process.exit(78);
  }
  const telemetry = createTelemetry({ serviceName: "gateway", exporter: config.traceExporter });
  const registry = await createRegistry(config.registryUrl, { bucket: config.registryBucket });
  // mTLS: `https:` instances are called with the gateway's certificate (spiffe://flotilla/gateway).
  let certs: ReturnType<typeof fileCertSource> | undefined;
  try {
    if (config.mtls === "on") certs = fileCertSource(config.tlsDir);
    if (certs && certs.service !== "gateway") throw new Error(`FLOTILLA_TLS_DIR holds the certificate of "${certs.service}", not of the gateway`);
  } catch (error) {
    log.fatal(`FLOTILLA_TLS_DIR: ${FlotillaError.from(error).message}`);
    process.exit(78);
  }
  const network = await createNetworkTransports(config.rpcNatsUrl === "none" ? {} : { natsUrl: config.rpcNatsUrl });
  const transports = certs ? new TransportSet([new MtlsTransport(certs), network]) : network;
  const invoker = createInvoker({ registry, transports, telemetry, caller: "gateway" });
  // WebSocket upgrades (`/v1/realtime`) are piped to a messaging instance; over mTLS when it serves https.
  const messaging = await registry.watch("messaging");
  const realtime = {
    kind: "proxy",
    instances: () => messaging.instances().map((i) => i.labels.http ?? i.address),
    ...(certs
      ? {
          connect: (target: URL) => {
            const { cert, key, ca } = certs.current();
            return tlsConnect({
              host: target.hostname,
              port: Number(target.port),
              cert,
              key,
              ca,
              minVersion: "TLSv1.3",
              checkServerIdentity: (_host, peer) => (serviceOfPeerCertificate(peer) === "messaging" ? undefined : new Error("the realtime instance is not spiffe://flotilla/messaging")),
            });
          },
        }
      : {}),
  } as const;
  let ready = true;
  const gateway = buildGatewayApp({
    invoke: invoker.invoke,
    log,
    telemetry,
    ready: () => ready,
    bodyLimit: config.bodyLimit,
    requestTimeoutMs: config.requestTimeoutMs,
    realtime,
  });
  const address = await gateway.listen({ port: config.port, host: config.host });
  log.info(`gateway listening on ${address}`);

  onShutdown(log, async () => {
    ready = false;
    await gateway.close();
    invoker.close();
    messaging.stop();
    await registry.close();
    await transports.close();
    certs?.close();
    await telemetry.shutdown();
  });
}
