// `flotilla up`: every service as its own process (N replicas each) and the
// gateway, against PostgreSQL and NATS, supervised and restarted when they die.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalPki, useLocalMasterKey } from "@flotilla/kit/internal";
import { knownServices } from "../services.ts";
import { Supervisor } from "../supervisor.ts";

export interface UpOptions {
  replicas: Record<string, number>;
  gatewayPort: number;
  databaseUrl: string;
  natsUrl: string;
  /** Master key and platform CA. @default FLOTILLA_DATA_DIR or .flotilla/up */
  dataDir?: string;
  /** Mutual TLS between the processes. @default FLOTILLA_MTLS, else on */
  mtls?: boolean;
  /** Lifetime of the service certificates. @default FLOTILLA_CERT_TTL_SECONDS, else 24 h */
  certTtlMs?: number;
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
    FLOTILLA_RPC_NATS_URL: options.natsUrl,
    FLOTILLA_BROADCAST_URL: options.natsUrl,
  };
  // Secrets of the local platform live in the data folder: field encryption's
  // master key, and the CA issuing each process its short-lived certificate.
  const dataDir = resolve(options.dataDir ?? process.env.FLOTILLA_DATA_DIR ?? ".flotilla/up");
  useLocalMasterKey(env, dataDir);
  // On unless turned off; calls carried by NATS have no per-caller certificate, so mTLS is off with them.
  const mtls = options.mtls ?? (process.env.FLOTILLA_MTLS ? process.env.FLOTILLA_MTLS === "on" : process.env.FLOTILLA_RPC_TRANSPORT !== "nats");
  const ttlSeconds = Number(process.env.FLOTILLA_CERT_TTL_SECONDS ?? 86_400);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60) throw new Error("FLOTILLA_CERT_TTL_SECONDS must be a whole number of seconds, at least 60");
  const pki = mtls
    ? await startLocalPki({ dir: resolve(dataDir, "pki"), services: [...Object.keys(knownServices), "gateway"], ttlMs: options.certTtlMs ?? ttlSeconds * 1000 })
    : undefined;
  // Under mTLS each service also opens a plain port for /livez, /readyz and /metrics (the `ops` label).
  const tlsEnv = (identity: string): NodeJS.ProcessEnv =>
    pki ? { FLOTILLA_MTLS: "on", FLOTILLA_TLS_DIR: pki.dirOf(identity), FLOTILLA_OPS_PORT: "0" } : { FLOTILLA_MTLS: "off" };
  const supervisor = new Supervisor();
  supervisor.on("exit", (s) => console.log(`supervisor     | ${s.name} exited (${s.lastExit}), restarts so far: ${s.restarts}`));
  supervisor.on("start", (s) => {
    if (s.restarts > 0) console.log(`supervisor     | ${s.name} restarted as pid ${s.pid}`);
  });
  for (const [name, service] of Object.entries(knownServices)) {
    const count = options.replicas[name] ?? 1;
    for (let i = 1; i <= count; i++) {
      supervisor.add({ name: `${name}#${i}`, command: process.execPath, args: [service.main], env: { ...env, ...tlsEnv(name), FLOTILLA_LABELS: `replica=${i}` } });
    }
  }
  supervisor.add({ name: "gateway", command: process.execPath, args: [flotillaBin, "gateway"], env: { ...env, ...tlsEnv("gateway"), FLOTILLA_GATEWAY_PORT: String(options.gatewayPort) } });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("supervisor     | stopping all processes");
    await supervisor.stop();
    pki?.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  console.log("supervisor     | running:");
  for (const s of supervisor.list()) console.log(`supervisor     |   ${s.name.padEnd(12)} pid ${s.pid}`);
  const base = `http://127.0.0.1:${options.gatewayPort}`;
  if (await waitReady(`${base}/readyz`, 60_000)) {
    const security = pki ? `mTLS on, CA ${resolve(dataDir, "pki", "ca.crt")}` : "mTLS off";
    console.log(`\n  Flotilla is up (distributed)\n  gateway  ${base}\n  docs     ${base}/docs\n  security ${security}\n`);
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
