import { int, loadConfig, oneOf, str, url } from "../config/index.ts";
import { kitErrors } from "../errors/index.ts";
import { envKeyProvider, masterKeyEnv } from "../security/crypto/index.ts";

/** Settings of every process hosting services, embedded or distributed. */
export const securitySettings = {
  zeroTrust: oneOf("FLOTILLA_ZERO_TRUST", ["on", "off"] as const, "on", "services re-verify the end user's access token and the method's permissions"),
  publicUrl: str("FLOTILLA_PUBLIC_URL", "http://127.0.0.1:8080", "the public base URL: the `iss` access tokens must carry", /^https?:\/\/[^/\s]+(\/[^\s]*[^/\s])?$/),
  jwksUrl: str("FLOTILLA_AUTH_JWKS_URL", "", "an external issuer's JWKS URL; empty: identity's GetJwks method through the invoker", /^https?:\/\/\S+$/),
};

/** Settings of one service process in the distributed runtime (`flotilla up`, Kubernetes). */
export const serviceProcessSettings = {
  databaseUrl: url("FLOTILLA_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres", "PostgreSQL admin URL used to create the service's database and role; queries run as the service's role", ["postgres:", "postgresql:"], ["pglite", "memory"]),
  databasePrefix: str("FLOTILLA_DATABASE_PREFIX", "flotilla_", "prefix of each service's database and role name", /^[a-z][a-z0-9_]{0,30}$/),
  registryUrl: url("FLOTILLA_REGISTRY_URL", "nats://127.0.0.1:4222", "service registry: nats://host:port[,…] or memory", ["nats:"], ["memory"]),
  registryBucket: str("FLOTILLA_REGISTRY_BUCKET", "flotilla_registry", "NATS KV bucket of the registry", /^[A-Za-z0-9_-]{1,64}$/),
  busUrl: url("FLOTILLA_BUS_URL", "nats://127.0.0.1:4222", "event bus: nats://host:port[,…] (JetStream) or memory", ["nats:"], ["memory"]),
  busStream: str("FLOTILLA_BUS_STREAM", "FLOTILLA_EVENTS", "JetStream stream holding the events", /^[A-Za-z0-9_-]{1,64}$/),
  broadcastUrl: url("FLOTILLA_BROADCAST_URL", "nats://127.0.0.1:4222", "fan-out between replicas (realtime hints, not durable): nats://host:port[,…] (core NATS) or memory", ["nats:"], ["memory"]),
  busSubjectPrefix: str("FLOTILLA_BUS_SUBJECT_PREFIX", "events", "subject prefix of events (events.<type>)", /^[A-Za-z0-9_-]{1,32}$/),
  host: str("FLOTILLA_HOST", "127.0.0.1", "address to listen on and to advertise"),
  port: int("FLOTILLA_PORT", 0, "port to listen on (0 = any free port)", { min: 0, max: 65535 }),
  opsPort: str(
    "FLOTILLA_OPS_PORT",
    "",
    "a plain-HTTP port answering only /livez, /readyz and /metrics, for probes and scrapers without a client certificate under mTLS (0 = any free port, advertised as the `ops` label); unset: none",
    /^(|0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/,
  ),
  version: str("FLOTILLA_VERSION", "0.1.0", "version advertised in the registry (canary routing selects on it)"),
  labels: str("FLOTILLA_LABELS", "", "extra registry labels, k=v,k=v", /^([A-Za-z0-9_.-]+=[A-Za-z0-9_.-]*)?(,[A-Za-z0-9_.-]+=[A-Za-z0-9_.-]*)*$/),
  drainTimeoutMs: int("FLOTILLA_DRAIN_TIMEOUT_MS", 10_000, "how long SIGTERM waits for calls in flight", { min: 0, max: 600_000 }),
  rpcTransport: oneOf("FLOTILLA_RPC_TRANSPORT", ["http", "nats"] as const, "http", "how other processes call this service: http (Connect over HTTP/1.1) or nats (NATS micro request/reply, Connect bodies)"),
  rpcNatsUrl: url("FLOTILLA_RPC_NATS_URL", "nats://127.0.0.1:4222", "NATS server(s) carrying calls when FLOTILLA_RPC_TRANSPORT=nats", ["nats:"]),
  rpcSubjectPrefix: str("FLOTILLA_RPC_SUBJECT_PREFIX", "flotilla.rpc", "subject prefix of calls over NATS", /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/),
  traceExporter: oneOf("FLOTILLA_TRACE_EXPORTER", ["none", "log"] as const, "none", "where finished spans go"),
  ...securitySettings,
  mtls: oneOf("FLOTILLA_MTLS", ["off", "on"] as const, "off", "mutual TLS between services: on needs FLOTILLA_TLS_DIR (`flotilla up` turns it on; on Kubernetes a mesh may do it instead)"),
  tlsDir: str("FLOTILLA_TLS_DIR", "", "folder with this service's tls.crt, tls.key and the platform ca.crt, re-read when they change"),
};

export function loadServiceProcessConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(serviceProcessSettings, env);
  // Master keys are only required by services that encrypt fields (they call
  // envKeyProvider themselves); a malformed one still stops every process at start.
  if (Object.values(masterKeyEnv).some((name) => env[name])) envKeyProvider(env);
  if (config.mtls === "on" && !config.tlsDir) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", "invalid configuration: FLOTILLA_TLS_DIR is required when FLOTILLA_MTLS=on");
  // Calls over NATS carry no client certificate: the caller's identity would be lost.
  if (config.mtls === "on" && config.rpcTransport === "nats") {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", "invalid configuration: FLOTILLA_RPC_TRANSPORT=nats does not carry mTLS identities; set FLOTILLA_MTLS=off (or use http)");
  }
  return config;
}

export function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(",").filter(Boolean)) {
    const [k, v = ""] = pair.split("=");
    if (k) labels[k] = v;
  }
  return labels;
}
