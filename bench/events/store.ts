// The event store's append beside the plainest write PostgreSQL offers: an
// autocommitted INSERT of the same rows, same connections, same database server.
import { catalogEventsV1 } from "@flotilla/contracts";
import { EventStore, eventstoreMigrations, eventTypeOf, migrate, type NewEvent, PostgresProvider } from "@flotilla/kit/internal";
import postgres from "postgres";
import { benchEvent } from "./payload.ts";
import type { Run } from "./setup.ts";
import { type Latency, now, summarise, Window } from "./stats.ts";

export interface StoreOptions {
  warmupMs: number;
  durationMs: number;
  writers: number;
  eventsPerAppend: number;
}

export interface StoreResult {
  /** Commits (appends, or INSERT statements) per second. */
  commitsPerSec: number;
  /** Rows (events) per second. */
  eventsPerSec: number;
  latency: Latency;
}

const TYPE = eventTypeOf(catalogEventsV1.EventPublishedSchema);
const METADATA = { dataschema: catalogEventsV1.EventPublishedSchema.typeName };

async function closedLoop(options: StoreOptions, commit: (writer: number) => Promise<void>): Promise<StoreResult> {
  const window = new Window(options.warmupMs, options.durationMs);
  const latencies: number[] = [];
  let commits = 0;
  const worker = async (w: number) => {
    while (!window.over()) {
      const started = now();
      await commit(w);
      const ended = now();
      if (window.contains(ended)) {
        commits++;
        latencies.push(ended - started);
      }
    }
  };
  await Promise.all(Array.from({ length: options.writers }, (_, w) => worker(w)));
  return { commitsPerSec: commits / window.seconds, eventsPerSec: (commits * options.eventsPerAppend) / window.seconds, latency: summarise(latencies) };
}

export async function eventStore(run: Run, options: StoreOptions): Promise<StoreResult> {
  const provider = new PostgresProvider({ url: run.postgresUrl, databasePrefix: run.databasePrefix, poolSize: options.writers });
  try {
    const db = await provider.open(`es-w${options.writers}-b${options.eventsPerAppend}`);
    await migrate(db, eventstoreMigrations);
    const store = new EventStore({ db });
    const data = benchEvent("es").data;
    const versions: number[] = Array.from({ length: options.writers }, () => 0);
    return await closedLoop(options, async (w) => {
      const events: NewEvent[] = Array.from({ length: options.eventsPerAppend }, () => ({ type: TYPE, data, metadata: METADATA }));
      // One stream per writer, each append checking the version it expects.
      const { nextVersion } = await store.append(`order-${w}`, versions[w] as number, events);
      versions[w] = nextVersion;
    });
  } finally {
    await provider.close();
  }
}

export async function rawInsert(run: Run, options: StoreOptions): Promise<StoreResult> {
  const provider = new PostgresProvider({ url: run.postgresUrl, databasePrefix: run.databasePrefix, poolSize: 1 });
  const name = `raw-w${options.writers}-b${options.eventsPerAppend}`;
  // Provisioned by the chassis, then written with the bare client.
  await (await provider.open(name)).exec(
    "CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, version int NOT NULL, type text NOT NULL, data bytea NOT NULL, metadata jsonb NOT NULL)",
  );
  await provider.close();
  const url = new URL(run.postgresUrl);
  url.username = run.databasePrefix + name;
  url.pathname = `/${run.databasePrefix}${name}`;
  const sql = postgres(url.toString(), { max: options.writers, onnotice: () => {} });
  try {
    const data = Buffer.from(benchEvent("raw").data);
    const metadata = JSON.stringify(METADATA);
    const versions: number[] = Array.from({ length: options.writers }, () => 0);
    return await closedLoop(options, async (w) => {
      const stream = `order-${w}`;
      const first = (versions[w] as number) + 1;
      versions[w] = first + options.eventsPerAppend - 1;
      const rows = Array.from({ length: options.eventsPerAppend }, (_, i) => ({ stream_id: stream, version: first + i, type: TYPE, data, metadata }));
      await sql`INSERT INTO events ${sql(rows, "stream_id", "version", "type", "data", "metadata")}`;
    });
  } finally {
    await sql.end();
  }
}
