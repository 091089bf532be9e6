// The consuming service of the e2e contender, in a process of its own as it
// would be deployed: consume() through the inbox of its own database. It
// reports how many events it handled every 100 ms, and when told to stop,
// when it handled each one.
import { catalogEventsV1 } from "@flotilla/contracts";
import { consume, consumeBatches, decodeEvent, type EventBus, eventTypeOf, inboxMigrations, migrate, NatsBus, PostgresProvider } from "@flotilla/kit/internal";
import { now } from "./stats.ts";

export interface ConsumerInit {
  postgresUrl: string;
  databasePrefix: string;
  service: string;
  pool: number;
  natsUrl: string;
  stream: string;
  subjectPrefix: string;
  concurrency: number;
  batchSize: number;
  transactions: number;
  /** Apply the events of an inbox transaction with one multi-row INSERT (consumeBatches) instead of one INSERT per event (consume). */
  batchHandler: boolean;
}

/** Messages from this process to the parent. */
export type ConsumerReport = { ready: true } | { handled: number; cpuMs: number } | { done: [string, number][] };

const init = JSON.parse(process.argv[2] as string) as ConsumerInit;
const send = (m: ConsumerReport) => {
  if (process.connected) process.send?.(m);
};
// Without its parent this process has no one to report to.
process.once("disconnect", () => process.exit(0));
// An orderly exit when the parent ends it, so that a --cpu-prof profile gets written.
process.once("SIGTERM", () => process.exit(0));
const provider = new PostgresProvider({ url: init.postgresUrl, databasePrefix: init.databasePrefix, poolSize: init.pool });
const db = await provider.open(init.service);
await migrate(db, inboxMigrations);
await db.exec("CREATE TABLE IF NOT EXISTS digests (event_id text PRIMARY KEY, title text NOT NULL, subject text)");
const nats = await NatsBus.connect({ servers: init.natsUrl }, { stream: init.stream, subjectPrefix: init.subjectPrefix, onError: () => {} });

// "Handled" means the inbox transaction committed: the bus's handler resolved.
const handledAt: [string, number][] = [];
const bus: EventBus = {
  publish: (events) => nats.publish(events),
  subscribe: (options, handler) =>
    nats.subscribe(options, async (delivery) => {
      await handler(delivery);
      handledAt.push([delivery.event.id, now()]);
    }),
  close: () => nats.close(),
};
const subscribeOptions = {
  consumer: "bench.event-published",
  type: eventTypeOf(catalogEventsV1.EventPublishedSchema),
  concurrency: init.concurrency,
  batchSize: init.batchSize,
  transactions: init.transactions,
};
const subscription = init.batchHandler
  ? await consumeBatches(db, bus, subscribeOptions, async (events, tx) => {
      const titles = events.map((event) => decodeEvent(catalogEventsV1.EventPublishedSchema, event).event?.title ?? "");
      await tx.query("INSERT INTO digests (event_id, title, subject) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])", [
        events.map((e) => e.id),
        titles,
        events.map((e) => e.subject ?? null),
      ]);
    })
  : await consume(db, bus, subscribeOptions, async (event, tx) => {
      const { event: published } = decodeEvent(catalogEventsV1.EventPublishedSchema, event);
      await tx.query("INSERT INTO digests (event_id, title, subject) VALUES ($1, $2, $3)", [event.id, published?.title ?? "", event.subject ?? null]);
    });
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const ticker = setInterval(() => send({ handled: handledAt.length, cpuMs: cpuMs() }), 100);
process.once("message", async () => {
  clearInterval(ticker);
  await subscription.stop();
  await bus.close();
  await provider.close();
  // The parent ends this process once it has the report.
  send({ done: handledAt });
});
send({ ready: true });
