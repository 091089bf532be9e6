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
  MemoryBus,
  MemoryRegistry,
  onShutdown,
  PgliteProvider,
  type Registration,
  serverTelemetry,
  TransportSet,
} from "@flotilla/kit/internal";
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

  const telemetry = createTelemetry({ serviceName: "flotilla-dev" });
  const provider = new PgliteProvider({ dataDir });
  const registry = new MemoryRegistry();
  const bus = new MemoryBus();
  const network = new InprocNetwork();
  const transports = new TransportSet([new InprocTransport(network)]);

  const hosted: HostedService[] = [];
  const registrations: Registration[] = [];
  for (const { definition } of Object.values(knownServices)) {
    const service = await hostService(definition, { provider, bus, log, mode: "embedded", interceptors: [serverTelemetry(telemetry)], seed: options.seed });
    hosted.push(service);
    const id = `${definition.name}-embedded`;
    const address = `inproc://${id}`;
    network.bind(address, service.router);
    registrations.push(await registry.register({ id, service: definition.name, version: definition.version, address, labels: { mode: "embedded" }, startedAt: Date.now() }));
  }

  const invoker = createInvoker({ registry, transports, telemetry });
  let ready = true;
  const gateway = buildGatewayApp({ invoke: invoker.invoke, log: log.child({ component: "gateway" }), telemetry, ready: () => ready });
  const address = await gateway.listen({ port: options.port, host: options.host });
  const base = address.replace("[::1]", "localhost");

  const ms = Math.round(performance.now() - t0);
  process.stdout.write(
    `\n  Flotilla is running (embedded, ${hosted.length} service${hosted.length === 1 ? "" : "s"}, ready in ${ms} ms)\n` +
      `  gateway  ${base}\n  docs     ${base}/docs\n  openapi  ${base}/openapi.json\n  data     ${dataDir}\n\n`,
  );

  onShutdown(log, async () => {
    ready = false;
    await gateway.close();
    invoker.close();
    for (const r of registrations) await r.deregister();
    for (const s of hosted) await s.stop();
    await bus.close();
    await provider.close();
    await registry.close();
    await telemetry.shutdown();
  });
}
