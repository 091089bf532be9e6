// The `flotilla` command.
import { parseArgs } from "node:util";
import { runDev } from "./commands/dev.ts";
import { runGatewayProcess } from "./commands/gateway.ts";
import { runUp } from "./commands/up.ts";

const usage = `flotilla — a microservices backend for mobile apps

Usage:
  flotilla dev [--port 8080] [--host 127.0.0.1] [--data-dir .flotilla/data] [--no-seed]
      The whole backend in one process on embedded defaults (PGlite, in-process bus and registry).
  flotilla up [--replicas catalog=2] [--gateway-port 8080] [--database-url URL] [--nats-url URL]
      Every service as its own process, against PostgreSQL and NATS; restarts processes that die.
  flotilla gateway
      The API gateway as its own process (configured by FLOTILLA_* variables; used by up).
  flotilla help
`;

const [command, ...rest] = process.argv.slice(2);
try {
  switch (command) {
    case "dev": {
      const { values } = parseArgs({
        args: rest,
        options: {
          port: { type: "string", default: process.env.FLOTILLA_GATEWAY_PORT ?? "8080" },
          host: { type: "string", default: "127.0.0.1" },
          "data-dir": { type: "string", default: process.env.FLOTILLA_DATA_DIR ?? ".flotilla/data" },
          "no-seed": { type: "boolean", default: false },
        },
      });
      await runDev({ port: parsePort(values.port, "--port"), host: values.host, dataDir: values["data-dir"], seed: !values["no-seed"] });
      break;
    }
    case "up": {
      const { values } = parseArgs({
        args: rest,
        options: {
          replicas: { type: "string", multiple: true, default: [] },
          "gateway-port": { type: "string", default: process.env.FLOTILLA_GATEWAY_PORT ?? "8080" },
          "database-url": { type: "string", default: process.env.FLOTILLA_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
          "nats-url": { type: "string", default: process.env.FLOTILLA_REGISTRY_URL ?? "nats://127.0.0.1:4222" },
        },
      });
      await runUp({
        replicas: parseReplicas(values.replicas),
        gatewayPort: parsePort(values["gateway-port"], "--gateway-port"),
        databaseUrl: values["database-url"],
        natsUrl: values["nats-url"],
      });
      break;
    }
    case "gateway":
      await runGatewayProcess();
      break;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(usage);
      break;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`);
      process.exit(64);
  }
} catch (error) {
  process.stderr.write(`flotilla ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

function parsePort(raw: string, flag: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new Error(`${flag} must be a port number (0-65535), got "${raw}"`);
  return n;
}

/** `--replicas catalog=2 --replicas other=3` or `--replicas catalog=2,other=3`. */
function parseReplicas(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of values.flatMap((v) => v.split(","))) {
    const m = /^([a-z][a-z0-9-]*)=(\d{1,2})$/.exec(pair.trim());
    if (!m) throw new Error(`--replicas expects name=N (N from 1 to 99), got "${pair}"`);
    const n = Number(m[2]);
    if (n < 1) throw new Error(`--replicas ${m[1]} must be at least 1`);
    out[m[1]!] = n;
  }
  return out;
}
