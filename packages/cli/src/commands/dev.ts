// `flotilla dev` (`npm start`): the gateway and every service in ONE process
// on embedded defaults — one PGlite in the data folder (a schema and role per
// service), an in-process registry, in-process calls. Same code as `up`.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { createLogger } from "@flotilla/kit";
import {
  createInvoker,
  createTelemetry,
  hostService,
  type HostedService,
  InprocNetwork,
  InprocTransport,
  type Invoker,
  loadConfig,
  MemoryBus,
  MemoryRegistry,
  onShutdown,
  PgliteProvider,
  type Registration,
  securityInterceptors,
  securitySettings,
  serverTelemetry,
  TransportSet,
  useLocalMasterKey,
} from "@flotilla/kit/internal";
import { useDevAdmin } from "../dev-admin.ts";
import { useDevPublicUrl } from "../dev-public-url.ts";
import { buildGatewayApp } from "../gateway-app.ts";
import { knownServices } from "../services.ts";

export interface DevOptions {
  port: number;
  host: string;
  dataDir: string;
  seed: boolean;
}

export async function runDev(options: DevOptions): Promise<void> {
  const t0 = performance.now();
  const log = createLogger("flotilla-dev");
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Field encryption's master key: generated once into the data folder (services read FLOTILLA_MASTER_KEY).
  useLocalMasterKey(process.env, dataDir);
  // Identity's bootstrap admin, printed below.
  const admin = useDevAdmin(process.env, dataDir);
  // The tokens' issuer (identity and the gateway alike) follows the port dev listens on.
  const listen = await useDevPublicUrl(process.env, options.host, options.port);

  const telemetry = createTelemetry({ serviceName: "flotilla-dev" });
  const provider = new PgliteProvider({ dataDir });
  const registry = new MemoryRegistry();
  const bus = new MemoryBus();
  const network = new InprocNetwork();
  const transports = new TransportSet([new InprocTransport(network)]);

  const hosted: HostedService[] = [];
  const registrations: Registration[] = [];
  // Each service calls (identity's key set, for zero trust) through its own
  // invoker, so in-process calls carry its identity as mTLS would.
  const security = loadConfig(securitySettings);
  const serviceInvokers: Invoker[] = [];
  for (const { definition } of Object.values(knownServices)) {
    const own = createInvoker({ registry, transports, telemetry, caller: definition.name });
    serviceInvokers.push(own);
    const interceptors = [serverTelemetry(telemetry), ...securityInterceptors({ ...security, invoke: own.invoke })];
    const service = await hostService(definition, { provider, bus, invoke: own.invoke, log, mode: "embedded", interceptors, seed: options.seed, metrics: telemetry.registry });
    hosted.push(service);
    const id = `${definition.name}-embedded`;
    const address = `inproc://${id}`;
    network.bind(address, service.router);
    registrations.push(await registry.register({ id, service: definition.name, version: definition.version, address, labels: { mode: "embedded" }, startedAt: Date.now() }));
  }

  const invoker = createInvoker({ registry, transports, telemetry, caller: "gateway" });
  let ready = true;
  // WebSocket upgrades (`/v1/realtime`) go straight to the service's handler in this process.
  const upgrade = hosted.find((s) => s.upgrade !== undefined)?.upgrade;
  const realtime = upgrade ? ({ kind: "inproc", handler: upgrade } as const) : undefined;
  const gateway = buildGatewayApp({ invoke: invoker.invoke, log: log.child({ component: "gateway" }), telemetry, ready: () => ready, ...(realtime ? { realtime } : {}) });
  await listen.release();
  const address = await gateway.listen({ port: listen.port, host: options.host });
  const base = address.replace("[::1]", "localhost");

  const ms = Math.round(performance.now() - t0);
  process.stdout.write(
    `\n  Flotilla is running (embedded, ${hosted.length} service${hosted.length === 1 ? "" : "s"}, ready in ${ms} ms)\n` +
      `  gateway  ${base}\n  docs     ${base}/docs\n  openapi  ${base}/openapi.json\n  data     ${dataDir}\n` +
      `  admin    ${admin.email} / ${admin.password}   (token: POST ${base}/oauth2/token grant_type=password client_id=flotilla-mobile)\n\n`,
  );

  onShutdown(log, async () => {
    ready = false;
    await gateway.close();
    invoker.close();
    for (const i of serviceInvokers) i.close();
    for (const r of registrations) await r.deregister();
    for (const s of hosted) await s.stop();
    await bus.close();
    await provider.close();
    await registry.close();
    await telemetry.shutdown();
  });
}
