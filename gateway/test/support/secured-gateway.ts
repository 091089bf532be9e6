// A gateway with the edge, app-version and auth plugins on, in front of the
// fake catalog, for tests over real HTTP. Tokens come from a test issuer whose
// clock the test controls.
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { createTokenVerifier, type TokenVerifierOptions } from "@flotilla/kit";
import { createTestIssuer, type TestIssuer } from "@flotilla/kit/testing";
import type { FastifyInstance } from "fastify";
import { type GatewayConfig, defaultGatewayConfig } from "../../src/config.ts";
import { appVersion } from "../../src/plugins/app-version.ts";
import { auth } from "../../src/plugins/auth.ts";
import { compression, edge } from "../../src/plugins/edge.ts";
import { createGateway } from "../../src/index.ts";
import type { GatewayPlugin, Invoke, RequestAuth } from "../../src/types.ts";
import { type FakeCatalog, fakeCatalog } from "./fake-catalog.ts";

export const sha256 = (key: string): string => createHash("sha256").update(key).digest("hex");

export interface SecuredGateway {
  readonly base: string;
  readonly app: FastifyInstance;
  readonly catalog: FakeCatalog;
  readonly issuer: TestIssuer;
  /** The gateway's config; replace its hot sections to simulate a reload. */
  config: GatewayConfig;
  /** Moves the verifier's and the issuer's clock. */
  advance(ms: number): void;
  /** `request.auth` of the requests that got past the auth plugin. */
  readonly seen: (RequestAuth | null)[];
  /** Verifies a fresh token with the given permissions. */
  token(permissions?: string[], claims?: Record<string, unknown>): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface SecuredOptions {
  readonly config?: Partial<GatewayConfig>;
  readonly verifier?: Partial<TokenVerifierOptions>;
  readonly requireAppKeyOnPublic?: boolean;
  readonly bodyLimit?: number;
}

export async function startSecured(options: SecuredOptions = {}): Promise<SecuredGateway> {
  let now = Date.now();
  const clock = () => now;
  const issuer = await createTestIssuer({ now: clock });
  const catalog = fakeCatalog();
  const seen: (RequestAuth | null)[] = [];
  const state = { config: { ...defaultGatewayConfig, ...options.config } as GatewayConfig };
  const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks(), now: clock, ...options.verifier });
  const record: GatewayPlugin = (api) => {
    api.addHook("preHandler", async (request) => {
      seen.push(request.auth);
    });
  };
  const c = state.config;
  // The fake catalog has no calendar; an empty one keeps every route answering.
  const invoke: Invoke = async (service, method, input, callOptions) => {
    if (method.name !== "GetCityCalendar") return catalog.invoke(service, method, input, callOptions);
    catalog.calls.push({ method: method.name, input, options: callOptions });
    return create(catalogV1.GetCityCalendarResponseSchema, {});
  };
  const app = createGateway({
    services: [catalogV1.CatalogService],
    invoke,
    logger: false,
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    plugins: [
      edge({ cors: c.cors, securityHeaders: c.securityHeaders, trustedProxies: c.network.trustedProxies }),
      appVersion({ settings: () => state.config.appVersions }),
      auth({ verifier, appKeys: () => state.config.appKeys, requireAppKeyOnPublic: options.requireAppKeyOnPublic ?? false }),
      record,
      compression(c.compression),
    ],
  });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    base,
    app,
    catalog,
    issuer,
    get config() {
      return state.config;
    },
    set config(next) {
      state.config = next;
    },
    advance: (ms) => {
      now += ms;
    },
    seen,
    token: (permissions = ["catalog:write"], claims = {}) => issuer.sign({ permissions, ...claims }),
    [Symbol.asyncDispose]: () => app.close(),
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
  text: string;
}

export async function request(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let body: Record<string, unknown> | undefined;
  try {
    body = text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

export const newEvent = {
  title: "Test concert",
  category: "EVENT_CATEGORY_CONCERT",
  venue: "Hall",
  city: "Porto",
  startsAt: "2030-06-01T20:00:00Z",
  capacity: 100,
  priceMinor: "2500",
  currency: "EUR",
};
