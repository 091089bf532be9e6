// The gateway's one configuration: a typed default (every setting's default
// lives in the schema below), merged with a JSON file (FLOTILLA_GATEWAY_CONFIG)
// and then with environment variables, validated as a whole at start. The
// sections in HOT_SECTIONS follow edits of the file while the gateway runs.
//
// Layout: one top-level section per concern, each an `object({...})`. A new
// concern adds its section to `gatewayConfigSchema`, its env variables to
// `ENV_OVERRIDES`, and its name to `HOT_SECTIONS` when it may change live.
// Plugins read `source.current().<section>` per request, so a reload needs
// no re-registration.
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { kitErrors } from "@flotilla/kit";
import { dict, flag, type Infer, integer, list, object, type Schema, text } from "./config-schema.ts";

const MiB = 1024 * 1024;
const ORIGIN = /^(\*|https?:\/\/[^/\s]+)$/;
const VERSION = /^\d+(\.\d+){0,3}$/;
const ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One mobile app's API key. The key itself is never stored: only its SHA-256. */
const appKey = object({
  /** Names the app in logs and rate limits, e.g. `ios-consumer`. */
  id: text("", { pattern: ID, hint: "1-64 letters, digits, . _ -" }),
  /** `ios`, `android`, `web`, ... (free text, matched against X-App-Platform rules). */
  platform: text("", { pattern: ID, hint: "1-64 letters, digits, . _ -" }),
  /** Lower-case hex SHA-256 of the key the app sends in `X-Api-Key`. */
  sha256: text("", { pattern: /^[0-9a-f]{64}$/, hint: "the lower-case hex SHA-256 of the key" }),
  /** A revoked key is refused (401) but kept in the file as a record. */
  revoked: flag(false),
});

export const gatewayConfigSchema = object({
  /** How the gateway runs on its machine. */
  server: object({
    /**
     * Processes sharing the gateway's port (node:cluster), each with one
     * JavaScript thread; 0 means one per CPU. More than one needs `redis.url`,
     * so that rate limits and idempotency keys are counted once across them.
     */
    workers: integer(1, { min: 0, max: 256 }),
  }),
  /** Payload and time limits (413 and 504 beyond). */
  limits: object({
    bodyLimit: integer(MiB, { min: 1024, max: 64 * MiB }),
    requestTimeoutMs: integer(15_000, { min: 100, max: 300_000 }),
  }),
  /** Who stands in front of the gateway. */
  network: object({
    /** Peer addresses (exact IPs) whose `X-Forwarded-For` is believed for the client IP. */
    trustedProxies: list(text("", { pattern: /^[0-9a-fA-F:.]+$/, hint: "an IP address" })),
  }),
  /** Bearer tokens (see shared auth conventions: ES256 access tokens from identity). */
  auth: object({
    /** Expected `iss`: the public base URL, no trailing slash. */
    issuer: text("http://127.0.0.1:8080", { pattern: /^https?:\/\/\S+[^/]$/, hint: "an http(s) URL without a trailing slash" }),
    audience: text("flotilla", { pattern: /^\S+$/, hint: "a non-empty word" }),
    /** An external IdP's JWKS URL; empty means identity's JWKS method through the invoker. */
    jwksUrl: text("", { pattern: /^(|https?:\/\/\S+)$/, hint: "empty or an http(s) URL" }),
    clockToleranceSec: integer(30, { min: 0, max: 300 }),
    /** Verified tokens kept so the hot path skips the signature check. */
    tokenCacheSize: integer(10_000, { min: 0, max: 1_000_000 }),
    /** Least time between two JWKS refetches caused by an unknown `kid`. */
    jwksRefreshCooldownMs: integer(10_000, { min: 0, max: 3_600_000 }),
  }),
  /** Per-app API keys (`X-Api-Key`): accepted on public routes; they name the app for rate limits. */
  appKeys: list(appKey),
  /** Minimum app version per platform (426 below it). */
  appVersions: object({
    platforms: dict(
      object({
        minimum: text("0", { pattern: VERSION, hint: "a dotted version such as 2.4.1" }),
        /** Where to upgrade, given in the 426 problem. */
        storeUrl: text("", { pattern: /^(|https?:\/\/\S+)$/, hint: "empty or an http(s) URL" }),
      }),
      {},
      { pattern: ID, hint: "a platform name (letters, digits, . _ -)" },
    ),
  }),
  cors: object({
    /** Allowed origins (`https://app.example.com`), or `*`; empty: no CORS headers at all. */
    origins: list(text("", { pattern: ORIGIN, hint: "an origin such as https://app.example.com, or *" })),
    credentials: flag(false),
    maxAgeSec: integer(600, { min: 0, max: 86_400 }),
  }),
  compression: object({
    enabled: flag(true),
    /** Responses smaller than this are sent as they are. */
    thresholdBytes: integer(1024, { min: 0, max: 10 * MiB }),
  }),
  securityHeaders: object({
    enabled: flag(true),
    /** `Strict-Transport-Security` max-age; 0 leaves the header out (plain-HTTP development). */
    hstsMaxAgeSec: integer(15_552_000, { min: 0, max: 63_072_000 }),
  }),
  /** Shared state of the traffic plugins: Redis in the distributed runtime, this process when empty. */
  redis: object({
    url: text("", { pattern: /^(|rediss?:\/\/\S+)$/, hint: "empty (in-process) or redis://[user:password@]host:port[/db]" }),
  }),
  /** Sliding-window limits per route class; a limit of 0 leaves that dimension unlimited. */
  rateLimits: object({
    enabled: flag(true),
    classes: dict(object({ user: rateRule(0), app: rateRule(0), ip: rateRule(0) }), {
      read: { user: { limit: 600, windowSec: 60 }, app: { limit: 6000, windowSec: 60 }, ip: { limit: 0, windowSec: 60 } },
      write: { user: { limit: 60, windowSec: 60 }, app: { limit: 1200, windowSec: 60 }, ip: { limit: 300, windowSec: 60 } },
      // WebSocket handshakes (`/v1/realtime`), per address, before the token is verified.
      realtime: { ip: { limit: 120, windowSec: 60 } },
    }),
    /** operationId or service name → class; unlisted: `read` (GET) or `write`. */
    routes: dict(text("", { pattern: ID, hint: "a class name" })),
  }),
  /** `Idempotency-Key` on POST/PUT/PATCH. */
  idempotency: object({
    ttlSec: integer(86_400, { min: 60, max: 7 * 86_400 }),
    /** How long a running request holds its key if its gateway dies; above limits.requestTimeoutMs. */
    lockSec: integer(60, { min: 1, max: 3_600 }),
  }),
  /** Response cache of GET routes whose contract sets `(flotilla.options.v1.cache)`. */
  responseCache: object({
    enabled: flag(true),
    /** Kept past the TTL to answer while the service is down (stale-if-error). */
    staleSec: integer(300, { min: 0, max: 86_400 }),
    /** Event type → services whose cached responses it invalidates. */
    invalidateOn: dict(list(text("", { pattern: ID, hint: "a service name" })), { "catalog.event_published.v1": ["catalog"] }),
  }),
  /** Answers while a service's circuit is open. */
  breaker: object({
    retryAfterSec: integer(5, { min: 1, max: 3_600 }),
    /** operationId → canned JSON response, e.g. `{ "CatalogService_ListEvents": { "body": { "events": [] } } }`. */
    fallbacks: dict(object({ status: integer(200, { min: 200, max: 299 }), body: anyJson() })),
  }),
  /** Canary / blue-green: service → version → relative weight. */
  canary: object({
    services: dict(dict(integer(0, { min: 0, max: 10_000 }))),
    /** Honour `X-Flotilla-Version` from testers. */
    header: flag(true),
  }),
});

/** One rate-limit rule: `limit` requests per sliding `windowSec`. */
function rateRule(limit: number) {
  return object({ limit: integer(limit, { min: 0, max: 1_000_000_000 }), windowSec: integer(60, { min: 1, max: 86_400 }) });
}

/** Any JSON value (a fallback's body); the file is JSON already, so nothing to check. */
function anyJson(): Schema<unknown> {
  return { default: null, parse: (raw) => (raw === undefined ? null : raw) };
}

export type GatewayConfig = Infer<typeof gatewayConfigSchema>;
export type AppKeyConfig = GatewayConfig["appKeys"][number];

/** The defaults: what the gateway runs with when nothing is configured. */
export const defaultGatewayConfig: GatewayConfig = gatewayConfigSchema.default;

/** Sections that follow file edits at run time; the others need a restart. */
export const HOT_SECTIONS: readonly (keyof GatewayConfig)[] = ["appKeys", "appVersions", "rateLimits", "responseCache", "breaker", "canary"];

/** Environment variables and the setting each overrides (after the file). */
export const ENV_OVERRIDES: Readonly<Record<string, string>> = {
  FLOTILLA_GATEWAY_WORKERS: "server.workers",
  FLOTILLA_GATEWAY_BODY_LIMIT: "limits.bodyLimit",
  FLOTILLA_GATEWAY_TIMEOUT_MS: "limits.requestTimeoutMs",
  FLOTILLA_GATEWAY_TRUSTED_PROXIES: "network.trustedProxies",
  FLOTILLA_PUBLIC_URL: "auth.issuer",
  FLOTILLA_GATEWAY_JWKS_URL: "auth.jwksUrl",
  FLOTILLA_GATEWAY_CORS_ORIGINS: "cors.origins",
  FLOTILLA_GATEWAY_COMPRESSION: "compression.enabled",
  FLOTILLA_GATEWAY_HSTS_MAX_AGE: "securityHeaders.hstsMaxAgeSec",
  FLOTILLA_GATEWAY_REDIS_URL: "redis.url",
};

export const CONFIG_FILE_ENV = "FLOTILLA_GATEWAY_CONFIG";

function invalid(problems: readonly string[], origin: string): Error {
  return kitErrors.create("KIT_ERR_CONFIG_INVALID", `invalid gateway configuration (${origin}):\n  ${problems.join("\n  ")}`);
}

function readJson(file: string): unknown {
  let textContent: string;
  try {
    textContent = readFileSync(file, "utf8");
  } catch (error) {
    throw invalid([`${CONFIG_FILE_ENV}: cannot read ${file}: ${(error as Error).message}`], file);
  }
  try {
    return JSON.parse(textContent) as unknown;
  } catch (error) {
    throw invalid([`${file} is not valid JSON: ${(error as Error).message}`], file);
  }
}

/** Sets env overrides on a copy of the raw config; the problems name the variable. */
function withEnv(raw: unknown, env: NodeJS.ProcessEnv, problems: string[]): unknown {
  const root: Record<string, unknown> = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? structuredClone(raw as Record<string, unknown>) : {};
  for (const [variable, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[variable];
    if (value === undefined || value === "") continue;
    const keys = path.split(".");
    let schema: Schema<unknown> | undefined = gatewayConfigSchema as Schema<unknown>;
    let target = root;
    for (const [i, key] of keys.entries()) {
      schema = schema?.fields?.[key];
      if (i === keys.length - 1) break;
      const next = target[key];
      target[key] = typeof next === "object" && next !== null && !Array.isArray(next) ? next : {};
      target = target[key] as Record<string, unknown>;
    }
    if (schema?.fromEnv === undefined) throw new Error(`ENV_OVERRIDES: ${variable} → ${path} is not a leaf setting`);
    const parsed = schema.fromEnv(value);
    const before = problems.length;
    schema.parse(parsed, path, problems);
    for (let i = before; i < problems.length; i++) problems[i] = `${variable}=${JSON.stringify(value)}: ${problems[i]}`;
    target[keys.at(-1)!] = parsed;
  }
  return root;
}

export interface LoadOptions {
  /** Default: process.env. `FLOTILLA_GATEWAY_CONFIG` in it names the JSON file. */
  readonly env?: NodeJS.ProcessEnv;
  /** The file, overriding the env variable. */
  readonly file?: string;
}

/**
 * Reads and validates the config, throwing KIT_ERR_CONFIG_INVALID that lists
 * every bad value by its path (`cors.origins[1]: ...`) or variable.
 *
 *   const config = loadGatewayConfig();   // FLOTILLA_GATEWAY_CONFIG=/etc/flotilla/gateway.json
 */
export function loadGatewayConfig(options: LoadOptions = {}): GatewayConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? (env[CONFIG_FILE_ENV] || undefined);
  const problems: string[] = [];
  const raw = withEnv(file === undefined ? {} : readJson(file), env, problems);
  const config = gatewayConfigSchema.parse(raw, "", problems);
  if (problems.length === 0) crossCheck(config, problems);
  if (problems.length > 0) throw invalid(problems, file ?? "environment");
  return config;
}

/** Rules between settings, once each one is valid on its own. */
function crossCheck(config: GatewayConfig, problems: string[]): void {
  // Counters and idempotency keys in one process's memory would be counted per process:
  // N workers would allow N times each rate limit and could run a retried request twice.
  if (config.server.workers !== 1 && config.redis.url === "") {
    problems.push(
      `server.workers (FLOTILLA_GATEWAY_WORKERS): ${config.server.workers === 0 ? "one process per CPU" : `${config.server.workers} processes`} need redis.url (FLOTILLA_GATEWAY_REDIS_URL), so that rate limits and idempotency keys are shared by the processes`,
    );
  }
}

/** The live config: `current()` is read per request, so hot sections apply at once. */
export interface GatewayConfigSource {
  current(): GatewayConfig;
  /** Called after each applied reload (not for a rejected one). */
  onChange(listener: (config: GatewayConfig) => void): void;
  close(): void;
}

/** A fixed config (tests, or no file): never changes. */
export function staticConfig(config: GatewayConfig = defaultGatewayConfig): GatewayConfigSource {
  return { current: () => config, onChange: () => {}, close: () => {} };
}

export interface WatchOptions extends LoadOptions {
  /** Told when a reload is refused (invalid file: the previous config stays) or applied. */
  readonly log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * Loads the config and, when it comes from a file, watches the file: a valid
 * edit replaces the HOT_SECTIONS, an invalid one is logged and ignored (a typo
 * must not take the gateway down). The folder is watched, not the file, so that
 * editors and config-map updates that replace the file by a rename are seen.
 */
export function watchGatewayConfig(options: WatchOptions = {}): GatewayConfigSource {
  const env = options.env ?? process.env;
  const file = options.file ?? (env[CONFIG_FILE_ENV] || undefined);
  let config = loadGatewayConfig(options);
  if (file === undefined) return staticConfig(config);
  const listeners: ((config: GatewayConfig) => void)[] = [];
  const path = resolve(file);
  let lastText = readFileSync(path, "utf8");
  let timer: NodeJS.Timeout | undefined;
  const reload = (): void => {
    timer = undefined;
    let textNow: string;
    try {
      textNow = readFileSync(path, "utf8");
    } catch {
      return; // Mid-replacement: the rename's second event follows.
    }
    if (textNow === lastText) return;
    lastText = textNow;
    let next: GatewayConfig;
    try {
      next = loadGatewayConfig({ env, file: path });
    } catch (error) {
      options.log?.warn({ file: path, err: (error as Error).message }, "gateway config change refused; keeping the previous one");
      return;
    }
    const merged = { ...config };
    for (const section of HOT_SECTIONS) (merged as Record<string, unknown>)[section] = next[section];
    config = merged;
    options.log?.info({ file: path, sections: HOT_SECTIONS }, "gateway config reloaded");
    for (const listener of listeners) listener(config);
  };
  const watcher: FSWatcher = watch(dirname(path), (_event, name) => {
    if (name !== null && name !== basename(path)) return;
    // Writes come in bursts (truncate, write): settle before reading.
    clearTimeout(timer);
    timer = setTimeout(reload, 50);
  });
  watcher.unref();
  return {
    current: () => config,
    onChange: (listener) => void listeners.push(listener),
    close: () => {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
