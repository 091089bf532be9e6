// `flotilla up`: every service as its own process (N replicas each) and the
// gateway, against PostgreSQL and NATS, supervised and restarted when they die.
import { fileURLToPath } from "node:url";
import { knownServices } from "../services.ts";
import { Supervisor } from "../supervisor.ts";

export interface UpOptions {
  replicas: Record<string, number>;
  gatewayPort: number;
  databaseUrl: string;
  natsUrl: string;
}

const flotillaBin = fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));

export async function runUp(options: UpOptions): Promise<void> {
  for (const name of Object.keys(options.replicas)) {
    if (!knownServices[name]) throw new Error(`unknown service "${name}" in --replicas; known: ${Object.keys(knownServices).join(", ")}`);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FLOTILLA_DATABASE_URL: options.databaseUrl,
    FLOTILLA_REGISTRY_URL: options.natsUrl,
  };
  const supervisor = new Supervisor();
  supervisor.on("exit", (s) => console.log(`supervisor     | ${s.name} exited (${s.lastExit}), restarts so far: ${s.restarts}`));
  supervisor.on("start", (s) => {
    if (s.restarts > 0) console.log(`supervisor     | ${s.name} restarted as pid ${s.pid}`);
  });
  for (const [name, service] of Object.entries(knownServices)) {
    const count = options.replicas[name] ?? 1;
    for (let i = 1; i <= count; i++) {
      supervisor.add({ name: `${name}#${i}`, command: process.execPath, args: [service.main], env: { ...env, FLOTILLA_LABELS: `replica=${i}` } });
    }
  }
  supervisor.add({ name: "gateway", command: process.execPath, args: [flotillaBin, "gateway"], env: { ...env, FLOTILLA_GATEWAY_PORT: String(options.gatewayPort) } });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("supervisor     | stopping all processes");
    await supervisor.stop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  console.log("supervisor     | running:");
  for (const s of supervisor.list()) console.log(`supervisor     |   ${s.name.padEnd(12)} pid ${s.pid}`);
  const base = `http://127.0.0.1:${options.gatewayPort}`;
  if (await waitReady(`${base}/readyz`, 60_000)) {
    console.log(`\n  Flotilla is up (distributed)\n  gateway  ${base}\n  docs     ${base}/docs\n`);
  } else {
    console.log(`supervisor     | the gateway is not ready after 60 s; see its log lines above`);
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
