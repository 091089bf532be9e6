// Internal: shared by the outbox and inbox tests. Every database and bus the
// tests open is unique to the run and removed afterwards.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { MemoryBus } from "../bus/memory.ts";
import { NatsBus, type NatsBusOptions } from "../bus/nats.ts";
import type { CloudEvent, DeliveryHandler, EventBus, SubscribeOptions, Subscription } from "../bus/types.ts";
import { migrate } from "../db/migrate.ts";
import { PgliteProvider } from "../db/pglite.ts";
import { PostgresProvider } from "../db/postgres.ts";
import { dropDatabasesWithPrefix } from "../testing/postgres.ts";
import type { Database, DatabaseProvider } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import { inboxMigrations } from "../inbox/migrations.ts";
import { outboxMigrations } from "./migrations.ts";

export const natsUrl = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
export const postgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export const unique = (): string => randomBytes(4).toString("hex");

/** Service databases of one backend, migrated with the outbox and inbox tables. */
export interface TestDatabases {
  /** A fresh service database. */
  open(tag: string): Promise<Database>;
  /** Another handle (another pool) on a database open() returned, as a second replica has. */
  replica(db: Database): Promise<Database>;
  close(): Promise<void>;
}

export interface DbBackend {
  name: "pglite" | "postgres";
  create(): Promise<TestDatabases>;
}

export const DB_BACKENDS: readonly DbBackend[] = [
  { name: "pglite", create: async () => testDatabases(sharedPglite(), async () => {}, releasePglite) },
  {
    name: "postgres",
    create: async () => {
      const databasePrefix = `ft_ob_${unique()}_`;
      return testDatabases(new PostgresProvider({ url: postgresUrl, databasePrefix, poolSize: 4 }), () => dropPostgres(databasePrefix));
    },
  },
];

// PGlite takes seconds to start: the suites of one test file share one instance.
let pglite: { provider: PgliteProvider; users: number } | undefined;
let pgliteTags = 0;

function sharedPglite(): PgliteProvider {
  pglite ??= { provider: new PgliteProvider(), users: 0 };
  pglite.users++;
  return pglite.provider;
}

/**
 * Starts the shared PGlite now, for a `before` hook: its start blocks the
 * event loop for seconds, which would stall suites running side by side.
 * Returns the release for the matching `after` hook.
 */
export async function warmUpPglite(): Promise<() => Promise<void>> {
  await sharedPglite().open("warmup");
  return releasePglite;
}

async function releasePglite(): Promise<void> {
  if (pglite === undefined || --pglite.users > 0) return;
  const { provider } = pglite;
  pglite = undefined;
  await provider.close();
}

function testDatabases(provider: DatabaseProvider, drop: () => Promise<void>, release: () => Promise<void> = () => provider.close()): TestDatabases {
  return {
    async open(tag) {
      // Unique across the suites sharing a provider.
      const db = await provider.open(`t${++pgliteTags}-${tag}`);
      await migrate(db, outboxMigrations);
      await migrate(db, inboxMigrations);
      return db;
    },
    async replica(db) {
      // PGlite is one connection in one process: a second handle is all a replica could have.
      return provider.open(db.service);
    },
    async close() {
      await release();
      await drop();
    },
  };
}

/** Drops every database and role made under a prefix (test cleanup). */
export async function dropPostgres(prefix: string): Promise<void> {
  await dropDatabasesWithPrefix(prefix, postgresUrl);
}

/** One broker: `connect()` gives a handle on it (on NATS each its own connection), all closed by close(). */
export interface TestBroker {
  connect(): Promise<EventBus>;
  close(): Promise<void>;
}

export interface BusBackend {
  name: "memory" | "nats";
  /** `duplicateWindowMs` small lets a test make the broker deliver one event id twice. */
  create(options?: { duplicateWindowMs?: number; ackWaitMs?: number }): Promise<TestBroker>;
}

export const BUS_BACKENDS: readonly BusBackend[] = [
  {
    name: "memory",
    create: async (options = {}) => {
      const bus = new MemoryBus({ duplicateWindowMs: options.duplicateWindowMs ?? 120_000 });
      return { connect: async () => bus, close: () => bus.close() };
    },
  },
  {
    name: "nats",
    create: async (options = {}) => {
      const id = unique();
      const settings: NatsBusOptions = {
        stream: `FLOTILLA_TEST_OUTBOX_${id}`,
        subjectPrefix: `test_outbox_${id}`,
        maxAgeMs: 10 * 60_000,
        onError: () => {},
        ...(options.duplicateWindowMs === undefined ? {} : { duplicateWindowMs: options.duplicateWindowMs }),
        ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
      };
      const buses: NatsBus[] = [];
      const open = async () => {
        const bus = await NatsBus.connect({ servers: natsUrl }, settings);
        buses.push(bus);
        return bus;
      };
      // Fail here, not in the middle of a test, when NATS is not there.
      await open();
      return {
        connect: open,
        close: async () => {
          await Promise.all(buses.map((b) => b.close()));
          const nc = await connect({ servers: natsUrl });
          try {
            await (await jetstreamManager(nc)).streams.delete(settings.stream as string);
          } finally {
            await nc.close();
          }
        },
      };
    },
  },
];

let sequence = 0;

/** A valid event of `type`, with distinct id and data. */
export function testEvent(type: string, overrides: Partial<CloudEvent> = {}): CloudEvent {
  const n = ++sequence;
  return {
    specversion: "1.0",
    id: `evt-${unique()}-${n}`,
    source: "/flotilla/test",
    type,
    subject: `subject-${n}`,
    time: new Date().toISOString(),
    datacontenttype: "application/protobuf",
    dataschema: "flotilla.test.v1.Thing",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    data: new Uint8Array([n & 0xff, 0, 0xff, (n >> 8) & 0xff]),
    ...overrides,
  };
}

export const testType = (tag: string): string => `test.${tag}_${unique()}.v1`;

/**
 * Wraps a bus: records every publish, and fails publishes while `failNext`
 * is above zero (counting down) or while `down` is set, or for events
 * `refuse` picks (with a non-retryable error, as a broker refusing a
 * malformed or oversized message).
 */
export class SpyBus implements EventBus {
  readonly inner: EventBus;
  readonly published: string[] = [];
  readonly calls: number[] = [];
  failNext = 0;
  down = false;
  delayMs = 0;
  refuse: (event: CloudEvent) => boolean = () => false;

  constructor(inner: EventBus) {
    this.inner = inner;
  }

  async publish(events: readonly CloudEvent[]): Promise<void> {
    this.calls.push(events.length);
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.failNext > 0 || this.down) {
      this.failNext = Math.max(0, this.failNext - 1);
      throw kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", "test: the broker is down");
    }
    const refused = events.find((e) => this.refuse(e));
    if (refused !== undefined) throw kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", `test: event ${refused.id} refused`);
    await this.inner.publish(events);
    this.published.push(...events.map((e) => e.id));
  }

  subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    return this.inner.subscribe(options, handler);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A handle on a bus that counts the deliveries its subscriptions get, by event id. */
export function countingDeliveries(bus: EventBus): { bus: EventBus; deliveries: Map<string, number> } {
  const deliveries = new Map<string, number>();
  return {
    deliveries,
    bus: {
      publish: (events) => bus.publish(events),
      subscribe: (options, handler) =>
        bus.subscribe(options, (delivery) => {
          deliveries.set(delivery.event.id, (deliveries.get(delivery.event.id) ?? 0) + 1);
          return handler(delivery);
        }),
      close: () => bus.close(),
    },
  };
}

/** Collects what a plain subscription receives. */
export async function collect(bus: EventBus, type: string, options: Partial<SubscribeOptions> = {}): Promise<{ events: CloudEvent[]; subscription: Subscription }> {
  const events: CloudEvent[] = [];
  const subscription = await bus.subscribe({ consumer: `collect-${unique()}`, type, backoffMs: [10], ...options }, async ({ event }) => {
    events.push(event);
  });
  return { events, subscription };
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(20);
  }
}

/** Number from a count(*) (int8 comes back as a string). */
export async function count(db: Database, sql: string, params: readonly unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: string | number }>(sql, params);
  return Number(row?.n ?? 0);
}
