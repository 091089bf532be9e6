// Contender: the Flotilla gateway as the issue asks to measure it — JWT
// verification (ES256, verified-token cache), rate limits (per IP and per
// user, in-process counters) and a route to one service over the chassis
// client (Connect, binary protobuf, keep-alive) — and nothing else: no
// response cache, so every request reaches the upstream.
import "../../rpc/servers/report-cpu.ts";
import { catalogV1 } from "@flotilla/contracts";
import { createTokenVerifier } from "@flotilla/kit";
import { HttpTransport, Upstream } from "@flotilla/kit/internal";
import { createTestIssuer } from "@flotilla/kit/testing";
import { auth, createGateway, type Invoke, type RateLimitSettings, rateLimit } from "@flotilla/gateway";

const upstreamUrl = process.env.BENCH_UPSTREAM_URL;
if (upstreamUrl === undefined) throw new Error("BENCH_UPSTREAM_URL is not set");
const port = Number(process.env.BENCH_PORT ?? "0");

const issuer = await createTestIssuer();
const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks(), algorithms: ["ES256"], clockToleranceSec: 30 });
const instance = { id: "catalog-bench", service: "catalog", version: "1.0.0", address: upstreamUrl, labels: {}, startedAt: Date.now() };
const upstream = new Upstream(catalogV1.CatalogService, { instances: () => [instance], transports: new HttpTransport() });
const invoke: Invoke = (_service, method, input, options) => upstream.call(method, input, options);
// Limits far above what the run reaches: the cost of counting is measured, not rejections.
const huge = { limit: 1_000_000_000, windowSec: 60 };
const limits: RateLimitSettings = { enabled: true, classes: { read: { user: huge, ip: huge } }, routes: {} };

const app = createGateway({
  services: [catalogV1.CatalogService],
  invoke,
  logger: false,
  accessLog: false,
  plugins: [rateLimit({ settings: () => limits }), auth({ verifier, appKeys: () => [] })],
});
const address = await app.listen({ port, host: "127.0.0.1" });
const token = await issuer.sign({ exp: Math.floor(Date.now() / 1000) + 900 });
process.send?.({ url: address, token });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
