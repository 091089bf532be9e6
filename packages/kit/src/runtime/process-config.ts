import { int, loadConfig, oneOf, str, url } from "../config/index.ts";

/** Settings of one service process in the distributed runtime (`flotilla up`, Kubernetes). */
export const serviceProcessSettings = {
  databaseUrl: url("FLOTILLA_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL admin URL used to create the service's database and role; queries run as the service's role", ["postgres:", "postgresql:"], ["pglite", "memory"]),
  databasePrefix: str("FLOTILLA_DATABASE_PREFIX", "flotilla_", "prefix of each service's database and role name", /^[a-z][a-z0-9_]{0,30}$/),
  registryUrl: url("FLOTILLA_REGISTRY_URL", "nats://127.0.0.1:4222", "service registry: nats://host:port[,…] or memory", ["nats:"], ["memory"]),
  registryBucket: str("FLOTILLA_REGISTRY_BUCKET", "flotilla_registry", "NATS KV bucket of the registry", /^[A-Za-z0-9_-]{1,64}$/),
  busUrl: url("FLOTILLA_BUS_URL", "nats://127.0.0.1:4222", "event bus: nats://host:port[,…] (JetStream) or memory", ["nats:"], ["memory"]),
  busStream: str("FLOTILLA_BUS_STREAM", "FLOTILLA_EVENTS", "JetStream stream holding the events", /^[A-Za-z0-9_-]{1,64}$/),
  busSubjectPrefix: str("FLOTILLA_BUS_SUBJECT_PREFIX", "events", "subject prefix of events (events.<type>)", /^[A-Za-z0-9_-]{1,32}$/),
  host: str("FLOTILLA_HOST", "127.0.0.1", "address to listen on and to advertise"),
  port: int("FLOTILLA_PORT", 0, "port to listen on (0 = any free port)", { min: 0, max: 65535 }),
  version: str("FLOTILLA_VERSION", "0.1.0", "version advertised in the registry (canary routing selects on it)"),
  labels: str("FLOTILLA_LABELS", "", "extra registry labels, k=v,k=v", /^([A-Za-z0-9_.-]+=[A-Za-z0-9_.-]*)?(,[A-Za-z0-9_.-]+=[A-Za-z0-9_.-]*)*$/),
  drainTimeoutMs: int("FLOTILLA_DRAIN_TIMEOUT_MS", 10_000, "how long SIGTERM waits for calls in flight", { min: 0, max: 600_000 }),
  traceExporter: oneOf("FLOTILLA_TRACE_EXPORTER", ["none", "log"] as const, "none", "where finished spans go"),
};

export function loadServiceProcessConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(serviceProcessSettings, env);
}

export function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(",").filter(Boolean)) {
    const [k, v = ""] = pair.split("=");
    if (k) labels[k] = v;
  }
  return labels;
}
