// Test support: a token issuer (ES256, typ at+jwt, as identity signs) and a
// hosted messaging service on PGlite with an in-process bus and broadcast.
import { create } from "@bufbuild/protobuf";
import type { Registry } from "prom-client";
import { messagingV1 } from "@flotilla/contracts";
import { type CloudEvent, createLogger } from "@flotilla/kit";
import { type Broadcast, type DatabaseProvider, type HostedService, hostService, MemoryBus, PgliteProvider } from "@flotilla/kit/internal";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { loadMessagingConfig, type MessagingConfig } from "../src/config.ts";
import { createMessagingService } from "../src/service.ts";

export const ISSUER = "http://127.0.0.1:8080";

export interface Issuer {
  jwks: { keys: JWK[] };
  token(sub: string, claims?: Record<string, unknown>): Promise<string>;
}

export async function createIssuer(): Promise<Issuer> {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "test-1", alg: "ES256", use: "sig" };
  return {
    jwks: { keys: [jwk] },
    token: (sub, claims = {}) =>
      new SignJWT({ client_id: "mobile", scope: "openid", roles: ["member"], permissions: [], ...claims })
        .setProtectedHeader({ alg: "ES256", kid: "test-1", typ: "at+jwt" })
        .setIssuer(ISSUER)
        .setAudience("flotilla")
        .setSubject(sub)
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .setExpirationTime("10m")
        .sign(pair.privateKey),
  };
}

export function testConfig(issuer: Issuer, overrides: Partial<Record<string, string>> = {}): MessagingConfig {
  return loadMessagingConfig({ FLOTILLA_PUBLIC_URL: ISSUER, FLOTILLA_AUTH_JWKS: JSON.stringify(issuer.jwks), ...overrides });
}

export interface Hosted {
  hosted: HostedService;
  bus: MemoryBus;
  events: CloudEvent[];
  call<M extends keyof typeof messagingV1.MessagingService.method>(name: M, input: object, token?: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function hostMessaging(options: { issuer: Issuer; provider?: DatabaseProvider; broadcast?: Broadcast; bus?: MemoryBus; config?: Record<string, string>; metrics?: Registry }): Promise<Hosted> {
  const provider = options.provider ?? new PgliteProvider();
  const bus = options.bus ?? new MemoryBus();
  const definition = createMessagingService({ config: testConfig(options.issuer, options.config) });
  const hosted = await hostService(definition, { provider, bus, log: createLogger("test", "silent"), mode: "embedded", ...(options.broadcast ? { broadcast: options.broadcast } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) });
  const events: CloudEvent[] = [];
  for (const type of ["messaging.message_sent.v1", "messaging.message_seen.v1", "messaging.members_changed.v1"]) {
    await bus.subscribe({ consumer: `test.${type}.${crypto.randomUUID()}`, type }, async ({ event }) => {
      events.push(event);
    });
  }
  return {
    hosted,
    bus,
    events,
    async call(name, input, token) {
      const method = messagingV1.MessagingService.method[name];
      const route = hosted.router.lookup(`/flotilla.messaging.v1.MessagingService/${method.name}`)!;
      return route.invoke(create(method.input, input as never), {
        service: messagingV1.MessagingService,
        method: method as never,
        deadline: undefined,
        metadata: token ? { authorization: `Bearer ${token}` } : {},
        signal: new AbortController().signal,
      });
    },
    async stop() {
      await hosted.stop();
      if (!options.bus) await bus.close();
      if (!options.provider) await provider.close();
    },
  };
}

export async function eventually<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
