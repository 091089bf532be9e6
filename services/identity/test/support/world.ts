// Identity hosted as the runtimes host it (hostService, a registry, the real
// invoker over the in-process transport) behind the real gateway with its edge
// and auth plugins, listening on a port: every flow is driven over HTTP.
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { allServices, identityV1 } from "@flotilla/contracts";
import { auth, createGateway, defaultGatewayConfig, edge } from "@flotilla/gateway";
import { type CloudEvent, createLogger, createTokenVerifier, type DatabaseProvider, localKeyProvider } from "@flotilla/kit";
import {
  createInvoker,
  type HostedService,
  hostService,
  InprocNetwork,
  InprocTransport,
  MemoryBus,
  MemoryRegistry,
  PgliteProvider,
  PostgresProvider,
  type Registration,
  TransportSet,
} from "@flotilla/kit/internal";
import { dropDatabasesWithPrefix, testPostgresUrl, uniqueDatabasePrefix } from "@flotilla/kit/testing";
import type { FastifyInstance } from "fastify";
import { createIdentityService } from "../../src/index.ts";
import { argon2Hasher, type PasswordHasher } from "../../src/passwords.ts";

export const ISSUER = "http://127.0.0.1:8080";
export const ADMIN = { email: "admin@example.test", password: "correct horse battery staple" };

export interface World {
  base: string;
  provider: DatabaseProvider;
  /** Moves the clock of identity and of the gateway's verifier. */
  advance(ms: number): void;
  events: CloudEvent[];
  close(): Promise<void>;
}

export async function startWorld(kind: "pglite" | "postgres", options: { hasher?: PasswordHasher } = {}): Promise<World> {
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const prefix = uniqueDatabasePrefix("identity");
  const provider: DatabaseProvider = kind === "pglite" ? new PgliteProvider() : new PostgresProvider({ url: testPostgresUrl, databasePrefix: prefix, poolSize: 4 });
  const bus = new MemoryBus();
  const log = createLogger("identity-test", "silent");
  const events: CloudEvent[] = [];
  for (const type of ["identity.account_created.v1", "identity.account_locked.v1", "identity.refresh_token_reused.v1", "identity.account_roles_changed.v1"]) {
    await bus.subscribe({ consumer: `test.${type}`, type }, async ({ event }) => {
      events.push(event);
    });
  }
  const definition = createIdentityService({
    keys: localKeyProvider({ keys: { k1: randomBytes(32) }, currentKeyId: "k1" }),
    env: { FLOTILLA_PUBLIC_URL: ISSUER, FLOTILLA_ADMIN_EMAIL: ADMIN.email, FLOTILLA_ADMIN_PASSWORD: ADMIN.password },
    now,
    // Lighter than production (19 MiB, t=2) so the suite stays quick on a shared machine; same algorithm and code path.
    hasher: options.hasher ?? argon2Hasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 }),
  });
  const hosted: HostedService = await hostService(definition, { provider, bus, log, mode: "embedded" });
  const registry = new MemoryRegistry();
  const network = new InprocNetwork();
  network.bind("inproc://identity-test", hosted.router);
  const registration: Registration = await registry.register({
    id: "identity-test",
    service: "identity",
    version: "0.1.0",
    address: "inproc://identity-test",
    labels: {},
    startedAt: Date.now(),
  });
  const invoker = createInvoker({ registry, transports: new TransportSet([new InprocTransport(network)]) });
  const identity = identityV1.IdentityService;
  const getJwks = identity.method.getJwks;
  const verifier = createTokenVerifier({
    issuer: ISSUER,
    audience: "flotilla",
    algorithms: ["ES256"],
    clockToleranceSec: 30,
    now: () => now().getTime(),
    refreshCooldownMs: 0,
    jwks: async () => {
      const res = (await invoker.invoke(identity, getJwks, create(getJwks.input), { metadata: {} })) as identityV1.GetJwksResponse;
      return { keys: res.keys.map((k) => ({ kty: k.kty, crv: k.crv, x: k.x, y: k.y, kid: k.kid, use: k.use, alg: k.alg })) };
    },
  });
  const config = defaultGatewayConfig;
  const app: FastifyInstance = createGateway({
    services: allServices,
    invoke: invoker.invoke,
    logger: false,
    plugins: [
      edge({ cors: config.cors, securityHeaders: config.securityHeaders, trustedProxies: ["127.0.0.1"] }),
      auth({ verifier, appKeys: () => [] }),
    ],
  });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    base,
    provider,
    events,
    advance: (ms) => {
      offset += ms;
    },
    async close() {
      await app.close();
      invoker.close();
      await registration.deregister();
      await registry.close();
      await hosted.stop();
      await bus.close();
      await provider.close();
      if (kind === "postgres") await dropDatabasesWithPrefix(prefix);
    },
  };
}
