// The gateway as both runtimes build it: contracts, config, edge, auth, traces, /metrics.
import { create, type DescMethodUnary } from "@bufbuild/protobuf";
import { allServices, type identityV1 } from "@flotilla/contracts";
import {
  auth,
  appVersion,
  compression,
  createGateway,
  edge,
  type GatewayConfigSource,
  type GatewayPlugin,
  type Invoke,
  mountRealtime,
  type RealtimeUpstream,
  trafficPlugins,
  watchGatewayConfig,
} from "@flotilla/gateway";
import { createTokenVerifier, type JwksSource, type Logger } from "@flotilla/kit";
import { fastifyTelemetry, METRICS_CONTENT_TYPE, metricsText, type SubscribeFn, type Telemetry } from "@flotilla/kit/internal";
import type { FastifyInstance } from "fastify";
import { knownServices } from "./services.ts";

export interface GatewayAppOptions {
  invoke: Invoke;
  log: Logger;
  telemetry: Telemetry;
  ready: () => boolean;
  bodyLimit?: number;
  requestTimeoutMs?: number;
  /** The gateway config; default: FLOTILLA_GATEWAY_CONFIG and the environment, watched for hot reload. */
  config?: GatewayConfigSource;
  /** Token keys, overriding the config's `auth.jwksUrl` and identity's JWKS method. */
  jwks?: JwksSource;
  /** Whether identity runs behind this gateway (its JWKS then comes through the invoker); default: it is a known service. */
  identityHosted?: boolean;
  /** Event subscriptions (from the bus) that invalidate cached responses; without it, entries live out their TTL. */
  subscribe?: SubscribeFn;
  /** Where `GET /v1/realtime` WebSocket upgrades go: the messaging service's handler (embedded) or its instances (distributed). */
  realtime?: RealtimeUpstream;
}

export function buildGatewayApp(options: GatewayAppOptions): FastifyInstance {
  const source = options.config ?? watchGatewayConfig({ log: options.log });
  const config = source.current();
  const plugins: GatewayPlugin[] = [
    tracing(options.telemetry),
    edge({ cors: config.cors, securityHeaders: config.securityHeaders, trustedProxies: config.network.trustedProxies }),
    appVersion({ settings: () => source.current().appVersions }),
  ];
  // Rate limits before auth (per-IP limits also throttle floods of bad tokens), the rest after it.
  const traffic = trafficPlugins({ config: () => source.current(), subscribe: options.subscribe, log: options.log });
  plugins.push(traffic.rateLimit);
  const jwks = options.jwks ?? (config.auth.jwksUrl !== "" ? config.auth.jwksUrl : identityJwks(options.invoke, options.identityHosted ?? "identity" in knownServices));
  let verifier: ReturnType<typeof createTokenVerifier> | undefined;
  if (jwks === undefined) {
    options.log.warn("no token key set (identity is not hosted, no auth.jwksUrl): API routes are NOT authenticated");
  } else {
    verifier = createTokenVerifier({
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      jwks,
      algorithms: ["ES256"],
      clockToleranceSec: config.auth.clockToleranceSec,
      cache: config.auth.tokenCacheSize > 0 ? { max: config.auth.tokenCacheSize } : false,
      refreshCooldownMs: config.auth.jwksRefreshCooldownMs,
    });
    plugins.push(auth({ verifier, appKeys: () => source.current().appKeys }));
  }
  plugins.push(...traffic.plugins);
  // Last: the traffic plugins store and replay bodies before they are compressed.
  plugins.push(compression(config.compression));

  const app = createGateway({
    services: allServices,
    invoke: options.invoke,
    logger: options.log,
    ready: options.ready,
    info: { title: "Flotilla API", version: "0.1.0" },
    plugins,
    bodyLimit: options.bodyLimit ?? config.limits.bodyLimit,
    requestTimeoutMs: options.requestTimeoutMs ?? config.limits.requestTimeoutMs,
  });
  if (options.realtime) mountRealtime(app, { upstream: options.realtime, verifier, trustedProxies: config.network.trustedProxies, admit: traffic.admitHandshake });
  app.addHook("onClose", async () => source.close());
  app.addHook("onClose", traffic.close);
  app.get("/metrics", async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await metricsText(options.telemetry.registry)));
  return app;
}

/**
 * Identity's public keys through the invoker, so embedded and distributed
 * runtimes verify tokens the same way. Undefined while identity is not among
 * the hosted services: then there is no issuer to trust.
 */
function identityJwks(invoke: Invoke, hosted: boolean): JwksSource | undefined {
  const service = allServices.find((s) => s.typeName === "flotilla.identity.v1.IdentityService");
  const found = service?.methods.find((m) => m.name === "GetJwks");
  if (service === undefined || found === undefined || found.methodKind !== "unary" || !hosted) return undefined;
  const method = found as DescMethodUnary;
  return async () => {
    const response = (await invoke(service, method, create(method.input), { metadata: {}, deadline: Date.now() + 5_000 })) as identityV1.GetJwksResponse;
    // Proto3 strings default to "": leave empty members out of the JWK.
    return { keys: response.keys.map((k) => Object.fromEntries(Object.entries({ kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid: k.kid, use: k.use, alg: k.alg }).filter(([, v]) => v !== ""))) };
  };
}

/** An HTTP span per API request, and its trace context on the service call. */
function tracing(telemetry: Telemetry): GatewayPlugin {
  const hooks = fastifyTelemetry(telemetry);
  return (api) => {
    hooks(api);
    api.addHook("preHandler", async (request) => {
      Object.assign(request.callMetadata, request.traceMetadata);
    });
  };
}

