// The chassis end to end: writers commit a business row and enqueue events in
// one transaction, one OutboxRelay publishes them to JetStream, and consume()
// in another process (the consuming service) applies each through its inbox.
import { type ChildProcess, fork } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { enqueue, migrate, NatsBus, OutboxRelay, outboxMigrations, PostgresProvider } from "@flotilla/kit/internal";
import type { ConsumerInit, ConsumerReport } from "./e2e-consumer.ts";
import { machineBusyMs, postgresBackendPids, processCpuMs } from "../support/engines.ts";
import { benchEvent } from "./payload.ts";
import type { FlowResult } from "./raw-jetstream.ts";
import type { Run } from "./setup.ts";
import { now, settle, summarise, Window } from "./stats.ts";

export interface E2eOptions {
  warmupMs: number;
  durationMs: number;
  writers: number;
  eventsPerTx: number;
  relayBatch: number;
  concurrency: number;
  /** Most events in one inbox transaction of the consumer. */
  batchSize: number;
  /** Inbox transactions of the consumer at once. */
  inboxTransactions: number;
  /** Connections of the producing service's pool (writers and relay share it). */
  producerPool: number;
  /** Connections of the consuming service's pool. */
  consumerPool: number;
  drainMs: number;
  progress: boolean;
  /** The consumer's handler takes each inbox transaction's events in one call (consumeBatches). */
  batchHandler: boolean;
  /** Events per second the writers offer together (an open loop), or 0: each writer commits again as soon as it can. */
  rate: number;
}

export interface E2eResult extends FlowResult {
  /** Relay publishes that failed and were retried. */
  relayFailures: number;
  /** CPU time (user + system) of the producing process in the window, per event committed in it. */
  producerCpuUsPerEvent: number;
  /** CPU time of the consuming process in the window, per event it handled in it. */
  consumerCpuUsPerEvent: number;
  /** CPU time of the PostgreSQL backends serving both services, per event handled (background writers not included). */
  postgresCpuUsPerEvent: number;
  /** CPU time of nats-server per event handled, when the run started its own (NaN otherwise). */
  natsCpuUsPerEvent: number;
  /** Busy CPU time of the whole machine per event handled: meaningful only when nothing else runs. */
  machineCpuUsPerEvent: number;
}

interface Consumer {
  child: ChildProcess;
  handled: () => number;
  /** CPU time the process has used, as of its last report (every 100 ms). */
  cpuMs: () => number;
  /** Stops the consumer; resolves with when it handled each event. */
  finish: () => Promise<[string, number][]>;
}

async function startConsumer(run: Run, init: ConsumerInit): Promise<Consumer> {
  const script = fileURLToPath(new URL("./e2e-consumer.ts", import.meta.url));
  const child = fork(script, [JSON.stringify(init)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  run.adopt(child);
  let handled = 0;
  let cpuMs = 0;
  let done: ((times: [string, number][]) => void) | undefined;
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`the consumer process exited with ${code}`))));
  exited.catch(() => {});
  const ready = new Promise<void>((resolve) => {
    child.on("message", (m: ConsumerReport) => {
      if ("ready" in m) resolve();
      else if ("handled" in m) {
        handled = m.handled;
        cpuMs = m.cpuMs;
      }
      else done?.(m.done);
    });
  });
  await Promise.race([ready, exited]);
  return {
    child,
    handled: () => handled,
    cpuMs: () => cpuMs,
    finish: () => {
      const result = new Promise<[string, number][]>((resolve) => {
        done = resolve;
      });
      child.send({ stop: true });
      return Promise.race([result, exited]);
    },
  };
}

export async function e2e(run: Run, options: E2eOptions): Promise<E2eResult> {
  const tag = `e2e-b${options.eventsPerTx}`;
  const natsTag = tag.replaceAll("-", "_");
  const busOptions = { stream: run.stream(natsTag), subjectPrefix: run.subjectPrefix(natsTag), onError: () => {} };
  const provider = new PostgresProvider({ url: run.postgresUrl, databasePrefix: run.databasePrefix, poolSize: options.producerPool });
  let consumer: Consumer | undefined;
  let bus: NatsBus | undefined;
  try {
    const producer = await provider.open(`${tag}-out`);
    await migrate(producer, outboxMigrations);
    await producer.exec("CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())");
    bus = await NatsBus.connect({ servers: run.natsUrl }, busOptions);
    consumer = await startConsumer(run, {
      postgresUrl: run.postgresUrl,
      databasePrefix: run.databasePrefix,
      service: `${tag}-in`,
      pool: options.consumerPool,
      natsUrl: run.natsUrl,
      ...busOptions,
      concurrency: options.concurrency,
      batchSize: options.batchSize,
      transactions: options.inboxTransactions,
      batchHandler: options.batchHandler,
    });
    const relay = new OutboxRelay({ db: producer, bus, batchSize: options.relayBatch, pollMs: 50 });
    relay.start();

    const window = new Window(options.warmupMs, options.durationMs);
    const committedAt = new Map<string, number>();
    let committed = 0;
    let committedTotal = 0;
    const stats = consumer;
    // CPU of both processes over the window, per event: where the time goes, and less moved than rates by other load.
    const cpu = { producer: [0, 0], consumer: [0, 0], handled: [0, 0], postgres: [0, 0], nats: [0, 0], machine: [0, 0] };
    // The backends of both services' pools, looked up once the pools are open (just before the window).
    let backends: number[] = [];
    const lookup = setTimeout(
      () => {
        void postgresBackendPids(run.postgresUrl, run.databasePrefix).then((pids) => {
          backends = pids;
        });
      },
      Math.max(0, window.start - now() - Math.min(300, options.warmupMs / 2)),
    );
    const producerCpuMs = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const mark = (i: 0 | 1) => {
      cpu.producer[i] = producerCpuMs();
      cpu.consumer[i] = stats.cpuMs();
      cpu.handled[i] = stats.handled();
      cpu.postgres[i] = backends.reduce((sum, pid) => sum + processCpuMs(pid), 0);
      cpu.nats[i] = run.natsPid === undefined ? Number.NaN : processCpuMs(run.natsPid);
      cpu.machine[i] = machineBusyMs();
    };
    const marks = [setTimeout(() => mark(0), window.start - now()), setTimeout(() => mark(1), window.end - now())];
    // With --progress: where the events are every half second, and how busy this process is.
    let lastElu = performance.eventLoopUtilization();
    const progress = options.progress
      ? setInterval(() => {
          const elu = performance.eventLoopUtilization(lastElu);
          lastElu = performance.eventLoopUtilization();
          void relay.stats().then((st) =>
            console.error(
              `  ${tag} t=${(now() - window.start).toFixed(0)} ms committed=${committedTotal} published=${st.published} outbox=${st.pending} handled=${stats.handled()} producer-event-loop=${elu.utilization.toFixed(2)}`,
            ),
          );
        }, 500)
      : undefined;

    // With a rate, the writers take turns on one schedule of transaction
    // slots, so that latency is measured below saturation, not as the backlog
    // a closed loop grows at the slowest stage.
    const slotMs = options.rate > 0 ? (1000 * options.eventsPerTx) / options.rate : 0;
    let nextSlot = now();
    const writer = async (w: number) => {
      let seq = 0;
      while (!window.over()) {
        if (slotMs > 0) {
          const slot = nextSlot;
          nextSlot += slotMs;
          if (slot > now()) await sleep(slot - now());
          if (window.over()) break;
        }
        seq++;
        const events = Array.from({ length: options.eventsPerTx }, (_, i) => benchEvent(`writer-${w}-${seq}-${i}`));
        await producer.transaction(async (tx) => {
          await tx.query("INSERT INTO orders (writer, seq) VALUES ($1, $2)", [w, seq]);
          await enqueue(tx, events);
        });
        const at = now();
        relay.nudge();
        committedTotal += events.length;
        if (!window.contains(at)) continue;
        committed += events.length;
        for (const event of events) committedAt.set(event.id, at);
      }
    };
    await Promise.all(Array.from({ length: options.writers }, (_, w) => writer(w)));
    await settle(() => stats.handled() >= committedTotal, options.drainMs);
    clearInterval(progress);
    for (const timer of [...marks, lookup]) clearTimeout(timer);
    const { failures } = await relay.stats();
    await relay.stop();
    const handledAt = await consumer.finish();

    const handledInWindow = (cpu.handled[1] ?? 0) - (cpu.handled[0] ?? 0);
    const perHandled = (what: "consumer" | "postgres" | "nats" | "machine") => (((cpu[what][1] ?? 0) - (cpu[what][0] ?? 0)) * 1000) / handledInWindow;
    const latencies: number[] = [];
    let delivered = 0;
    for (const [id, at] of handledAt) {
      if (window.contains(at)) delivered++;
      const commit = committedAt.get(id);
      if (commit === undefined) continue;
      // The relay can see a commit before the writer's client hears of it.
      latencies.push(Math.max(0, at - commit));
      committedAt.delete(id);
    }
    return {
      producedPerSec: committed / window.seconds,
      deliveredPerSec: delivered / window.seconds,
      latency: summarise(latencies),
      undelivered: committedAt.size,
      relayFailures: failures,
      producerCpuUsPerEvent: (((cpu.producer[1] ?? 0) - (cpu.producer[0] ?? 0)) * 1000) / committed,
      consumerCpuUsPerEvent: perHandled("consumer"),
      postgresCpuUsPerEvent: perHandled("postgres"),
      natsCpuUsPerEvent: perHandled("nats"),
      machineCpuUsPerEvent: perHandled("machine"),
    };
  } finally {
    if (consumer?.child.connected) consumer.child.kill();
    await bus?.close().catch(() => {});
    await provider.close().catch(() => {});
  }
}
