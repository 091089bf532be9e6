// Brings one service definition to life on given backends: its database
// (migrated), its handlers, its router. Both runtimes use this; neither the
// service nor this code knows which runtime it is in.
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { MemoryBroadcast } from "../broadcast/memory.ts";
import type { Broadcast } from "../broadcast/types.ts";
import type { EventBus, Subscription } from "../bus/types.ts";
import { migrate } from "../db/migrate.ts";
import { eventstoreMigrations } from "../eventstore/migrations.ts";
import { consume } from "../inbox/consume.ts";
import { inboxMigrations } from "../inbox/migrations.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { outboxMigrations } from "../outbox/migrations.ts";
import { OutboxRelay } from "../outbox/relay.ts";
import { projectionMigrations } from "../projections/migrations.ts";
import { sagaMigrations } from "../saga/migrations.ts";
import { serviceMetrics } from "../telemetry/service-metrics.ts";
import type { Database, DatabaseProvider } from "../db/types.ts";
import type { ServiceDefinition, ServiceParts, UpgradeHandler } from "../service/types.ts";
import { Router } from "../transport/router.ts";
import type { Invoke } from "./invoker.ts";
import type { ServerInterceptor } from "../transport/types.ts";

export interface HostedService {
  readonly definition: ServiceDefinition;
  readonly db: Database;
  readonly router: Router;
  /** The service's WebSocket endpoint, when it has one. */
  readonly upgrade: UpgradeHandler | undefined;
  stop(): Promise<void>;
}

/** The chassis's own tables, in every service's database: outbox, inbox, event store, projections, sagas. */
export const chassisMigrations = [...eventstoreMigrations, ...inboxMigrations, ...outboxMigrations, ...projectionMigrations, ...sagaMigrations].sort((a, b) =>
  a.id < b.id ? -1 : 1,
);

export interface HostOptions {
  provider: DatabaseProvider;
  bus: EventBus;
  /** Fan-out between replicas; absent: an in-process one (a single replica). */
  broadcast?: Broadcast;
  /** The service's own invoker, handed to it as `ctx.invoke`. */
  invoke?: Invoke;
  log: Logger;
  mode: "embedded" | "distributed";
  interceptors?: readonly ServerInterceptor[];
  /** Where `ctx.metrics` registers (the process's /metrics); absent: a registry of its own, scraped by nobody. */
  metrics?: MetricsRegistry;
  /** Run the service's sample-data hook (development only). */
  seed?: boolean;
}

export async function hostService<S extends DescService>(definition: ServiceDefinition<S>, options: HostOptions): Promise<HostedService> {
  const log = options.log.child({ service: definition.name });
  const db = await options.provider.open(definition.name);
  let relay: OutboxRelay | undefined;
  let stopSubscriptions = async () => {};
  try {
    const kit = await migrate(db, chassisMigrations);
    const own = await migrate(db, definition.migrations);
    const applied = [...kit.applied, ...own.applied];
    if (applied.length > 0) log.info({ applied }, "migrations applied");

    relay = new OutboxRelay({ db, bus: options.bus, log });
    relay.start();
    const nudge = () => setImmediate(() => relay?.nudge());
    const subscriptions: Subscription[] = [];
    const parts: ServiceParts<S> = await definition.create({
      name: definition.name,
      log,
      db,
      mode: options.mode,
      source: `/flotilla/${definition.name}`,
      broadcast: options.broadcast ?? new MemoryBroadcast(),
      ...(options.invoke ? { invoke: options.invoke } : {}),
      metrics: serviceMetrics(options.metrics ?? new MetricsRegistry(), definition.name),
      outbox: {
        async enqueue(tx, events) {
          await enqueue(tx, events);
          // The relay also polls; the nudge only cuts latency once the caller commits.
          nudge();
        },
      },
      async subscribe(name, type, handler) {
        const sub = await consume(db, options.bus, { consumer: `${definition.name}.${name}`, type, log }, handler);
        subscriptions.push(sub);
        return sub;
      },
    });
    stopSubscriptions = () => Promise.all(subscriptions.map((sub) => sub.stop())).then(() => {});
    if (options.seed && parts.seed) await parts.seed();
    const router = new Router({ interceptors: options.interceptors ?? [] });
    router.add(definition.contract, parts.handlers);
    return {
      definition: definition as unknown as ServiceDefinition,
      db,
      router,
      upgrade: parts.upgrade,
      async stop() {
        await stopSubscriptions();
        await parts.stop?.();
        await relay?.stop();
        await db.close();
      },
    };
  } catch (error) {
    await stopSubscriptions().catch(() => {});
    await relay?.stop().catch(() => {});
    await db.close().catch(() => {});
    throw error;
  }
}
