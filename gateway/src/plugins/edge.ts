// What every API response gets at the edge: the client's address in the call
// metadata, security headers fit for a JSON API, CORS for browser apps, and
// (a separate plugin, registered last) compression.
//
//   plugins: [edge({ cors, securityHeaders, trustedProxies }), appVersion(...), auth(...), ..., compression(config.compression)]
import compress from "@fastify/compress";
import helmet, { type FastifyHelmetOptions } from "@fastify/helmet";
import { kitErrors } from "@flotilla/kit";
import { type FastifyReply, type FastifyRequest, fastify } from "fastify";
import type { GatewayConfig } from "../config.ts";
import type { GatewayPlugin } from "../types.ts";
import { clientIpOf, normalizeIp } from "./edge-client-ip.ts";

export interface EdgeOptions {
  readonly cors: GatewayConfig["cors"];
  readonly securityHeaders: GatewayConfig["securityHeaders"];
  readonly trustedProxies: readonly string[];
}

// Response headers a browser app may read besides the CORS-safelisted ones.
const EXPOSED =
  "x-request-id, etag, age, x-cache, location, retry-after, www-authenticate, idempotent-replayed, x-flotilla-fallback, ratelimit-limit, ratelimit-remaining, ratelimit-reset";
const HEADER_LIST = /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/;

export function edge(options: EdgeOptions): GatewayPlugin {
  const { cors, securityHeaders } = options;
  const wildcard = cors.origins.includes("*");
  if (wildcard && cors.credentials) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", "invalid gateway configuration: cors.origins `*` cannot be combined with cors.credentials (browsers refuse it)");
  }
  const trusted = new Set(options.trustedProxies.map(normalizeIp));
  const origins = new Set(cors.origins);
  const allowed = (origin: string | undefined): origin is string => origin !== undefined && (wildcard || origins.has(origin));

  return async (api) => {
    if (!api.hasRequestDecorator("auth")) api.decorateRequest("auth", null);
    // An API serves no HTML: nothing may be loaded, framed or sniffed.
    const secure = securityHeaders.enabled
      ? await helmetHeaders({
          global: true,
          contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
          crossOriginEmbedderPolicy: false,
          crossOriginOpenerPolicy: false,
          crossOriginResourcePolicy: { policy: cors.origins.length > 0 ? "cross-origin" : "same-origin" },
          referrerPolicy: { policy: "no-referrer" },
          strictTransportSecurity: securityHeaders.hstsMaxAgeSec > 0 ? { maxAge: securityHeaders.hstsMaxAgeSec, includeSubDomains: true } : false,
          xFrameOptions: { action: "deny" },
        })
      : undefined;
    // Callback-style hooks here: synchronous work, so no promise per request.
    api.addHook("onRequest", (request, reply, done) => {
      request.callMetadata["x-client-ip"] = clientIpOf(request.raw.socket.remoteAddress, request.headers["x-forwarded-for"], trusted);
      if (secure !== undefined) reply.headers(secure);
      done();
    });

    if (cors.origins.length === 0) return;
    const allowOrigin = (request: FastifyRequest, reply: FastifyReply): boolean => {
      const origin = request.headers.origin;
      reply.header("vary", "Origin");
      if (!allowed(origin)) return false;
      reply.header("access-control-allow-origin", wildcard ? "*" : origin);
      if (cors.credentials) reply.header("access-control-allow-credentials", "true");
      return true;
    };
    api.addHook("onRequest", (request, reply, done) => {
      if (request.method !== "OPTIONS" && allowOrigin(request, reply)) reply.header("access-control-expose-headers", EXPOSED);
      done();
    });

    // Preflights: an OPTIONS route beside each API path rather than a catch-all
    // `OPTIONS *`, so unknown paths stay 404 and the 405 `Allow` list stays exact.
    const methods = new Map<string, Set<string>>();
    api.addHook("onRoute", (route) => {
      if (route.config?.flotilla === undefined) return;
      const verbs = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== "HEAD");
      const known = methods.get(route.url);
      if (known !== undefined) {
        for (const verb of verbs) known.add(verb);
        return;
      }
      const set = new Set(verbs);
      methods.set(route.url, set);
      api.route({
        method: "OPTIONS",
        url: route.url,
        handler: async (request, reply) => {
          const list = [...set, "OPTIONS"].join(", ");
          reply.header("allow", list);
          const asked = request.headers["access-control-request-method"];
          if (typeof asked === "string" && allowOrigin(request, reply)) {
            reply.header("access-control-allow-methods", list);
            const headers = request.headers["access-control-request-headers"];
            if (typeof headers === "string" && HEADER_LIST.test(headers)) reply.header("access-control-allow-headers", headers);
            reply.header("access-control-max-age", String(cors.maxAgeSec));
          }
          return reply.code(204).send();
        },
      });
    });
  };
}

/**
 * The headers helmet sets with these options, worked out once at start by
 * answering one request through @fastify/helmet: the plugin builds helmet's
 * middleware anew for every request (its CSP parsed again each time: ~15 µs
 * per request, bench/gateway), while without nonces the headers are the same
 * for every response.
 */
async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const answer = async (withHelmet: boolean) => {
    const probe = fastify();
    if (withHelmet) await probe.register(helmet, options);
    probe.get("/", async () => "");
    try {
      return (await probe.inject("/")).headers;
    } finally {
      await probe.close();
    }
  };
  const [secured, plain] = await Promise.all([answer(true), answer(false)]);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(secured)) if (!(name in plain) && typeof value === "string") headers[name] = value;
  return headers;
}

/**
 * Gzip/deflate/brotli by the client's `Accept-Encoding`. Register it after the
 * plugins that look at response bodies (cache, idempotency), so they see the
 * plain body and compression happens once on the way out.
 */
export function compression(options: GatewayConfig["compression"]): GatewayPlugin {
  return async (api) => {
    if (!options.enabled) return;
    await api.register(compress, { global: true, threshold: options.thresholdBytes, encodings: ["gzip", "deflate", "br"] });
  };
}
