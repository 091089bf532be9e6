// Contender: the Flotilla gateway as the issue asks to measure it — JWT
// verification (ES256, verified-token cache), rate limits (per IP and per
// user) and a route to one service over the chassis client (Connect, binary
// protobuf, keep-alive) — and nothing else: no response cache, so every
// request reaches the upstream.
//
// BENCH_GATEWAY_WORKERS > 1 runs it as that many processes on one port
// (`runWorkers`, as `server.workers` does), with the rate-limit counters in
// Redis at BENCH_REDIS_URL, as the config requires then; one process counts in
// its own memory. The runner reads the CPU time of the whole process tree.
import cluster from "node:cluster";
import { catalogV1 } from "@flotilla/contracts";
import { createTokenVerifier } from "@flotilla/kit";
import { HttpTransport, Upstream } from "@flotilla/kit/internal";
import { createTestIssuer } from "@flotilla/kit/testing";
import { auth, createGateway, type Invoke, type RateLimitOptions, type RateLimitSettings, rateLimit, runWorkers } from "@flotilla/gateway";
import { createRequire } from "node:module";
import type { JWK } from "jose";

const upstreamUrl = process.env.BENCH_UPSTREAM_URL;
if (upstreamUrl === undefined) throw new Error("BENCH_UPSTREAM_URL is not set");
const port = Number(process.env.BENCH_PORT ?? "0");
const workers = Number(process.env.BENCH_GATEWAY_WORKERS ?? "1");
const redisUrl = process.env.BENCH_REDIS_URL ?? "";
if (workers > 1 && redisUrl === "") throw new Error("BENCH_GATEWAY_WORKERS > 1 needs BENCH_REDIS_URL: processes must share their rate-limit counters");
const ISSUER = "http://127.0.0.1:8080";
const AUDIENCE = "flotilla";

/** One gateway process, verifying tokens against `keys`; resolves with its address. */
async function serve(keys: { keys: JWK[] }): Promise<string> {
  const verifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: async () => keys, algorithms: ["ES256"], clockToleranceSec: 30 });
  const instance = { id: "catalog-bench", service: "catalog", version: "1.0.0", address: upstreamUrl!, labels: {}, startedAt: Date.now() };
  const upstream = new Upstream(catalogV1.CatalogService, { instances: () => [instance], transports: new HttpTransport() });
  const invoke: Invoke = (_service, method, input, options) => upstream.call(method, input, options);
  // Limits far above what the run reaches: the cost of counting is measured, not rejections.
  const huge = { limit: 1_000_000_000, windowSec: 60 };
  const limits: RateLimitSettings = { enabled: true, classes: { read: { user: huge, ip: huge } }, routes: {} };
  const redis = redisUrl === "" ? undefined : sharedCounters(redisUrl);
  const app = createGateway({
    services: [catalogV1.CatalogService],
    invoke,
    logger: false,
    accessLog: false,
    plugins: [rateLimit({ settings: () => limits, redis, keyPrefix: "bench:rl" }), auth({ verifier, appKeys: () => [] })],
  });
  const address = await app.listen({ port, host: "127.0.0.1" });
  process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
  return address;
}

/** The gateway's own Redis client (ioredis, a dependency of the gateway, not of the benchmarks), set up as traffic.ts does. */
function sharedCounters(url: string): RateLimitOptions["redis"] {
  const { Redis } = createRequire(import.meta.resolve("@flotilla/gateway"))("ioredis") as { Redis: new (url: string, options: object) => NonNullable<RateLimitOptions["redis"]> };
  return new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
}

if (cluster.isPrimary) {
  const issuer = await createTestIssuer({ issuer: ISSUER, audience: AUDIENCE });
  const token = await issuer.sign({ exp: Math.floor(Date.now() / 1000) + 900 });
  const keys = await issuer.jwks();
  if (workers <= 1) {
    process.send?.({ url: await serve(keys), token });
  } else {
    let url: string | undefined;
    cluster.on("listening", (_worker, address) => {
      url ??= `http://127.0.0.1:${address.port}`;
    });
    await runWorkers({ workers, env: { BENCH_JWKS: JSON.stringify(keys) } }, () => Promise.resolve());
    process.send?.({ url, token });
  }
} else {
  await serve(JSON.parse(process.env.BENCH_JWKS ?? "{}") as { keys: JWK[] });
}
