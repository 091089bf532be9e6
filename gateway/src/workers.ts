// The gateway as N processes on one port (config `server.workers`): one
// JavaScript thread is the gateway's ceiling under load (bench/gateway), so a
// machine with more cores runs more processes, like nginx's workers. node:cluster:
// the primary owns the listening socket and hands each new connection to a
// worker in turn (round-robin, even spread over keep-alive clients); it runs no
// gateway code itself. State that must be counted once across the processes
// (rate limits, idempotency keys) lives in Redis then: the config refuses
// more than one worker without `redis.url`.
import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";

export interface WorkersOptions {
  /** Processes to run; 0 means one per CPU. With 1 (or inside a worker) `start` runs here. */
  readonly workers: number;
  readonly log?: {
    info(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  /** Extra environment of the workers. */
  readonly env?: Readonly<Record<string, string>>;
  /** First delay before a crashed worker is started again; doubled per crash, up to 30 s (default 500 ms). */
  readonly restartDelayMs?: number;
}

/** A worker that ran this long before it died starts again without delay. */
const STABLE_MS = 30_000;
const MAX_DELAY_MS = 30_000;

/** How many processes `workers` stands for (0: one per CPU). */
export function workerCount(workers: number): number {
  return workers === 0 ? availableParallelism() : workers;
}

/**
 * Runs the gateway in `workers` processes sharing its port:
 *
 *   await runWorkers({ workers: config.server.workers, log }, () => serveGateway());
 *
 * In a worker, or with one process, it runs `start` (which listens as usual:
 * in a worker, `listen` shares the primary's socket) and resolves with it. In
 * the primary it forks the workers, resolves once every one of them listens,
 * starts a worker again when it dies (with a growing delay), and on SIGTERM
 * passes the signal on, lets each worker drain, and exits when they all have.
 * SIGINT (Ctrl-C) reaches the workers through the terminal's process group:
 * the primary then only waits for them.
 */
export async function runWorkers(options: WorkersOptions, start: () => Promise<void>): Promise<void> {
  const count = workerCount(options.workers);
  if (count <= 1 || !cluster.isPrimary) return start();
  const log = options.log;
  const firstDelay = options.restartDelayMs ?? 500;
  // starting: a worker that dies before all listen fails the start (it would only crash again).
  let phase: "starting" | "running" | "stopping" = "starting";
  let exitWhenDrained = false;
  const live = new Set<Worker>();
  let startFailed: (error: Error) => void = () => {};

  const fork = (slot: number, delay: number): void => {
    const worker = cluster.fork({ ...options.env, FLOTILLA_GATEWAY_WORKER: String(slot) });
    const startedAt = Date.now();
    live.add(worker);
    worker.once("exit", (code, signal) => {
      live.delete(worker);
      if (phase === "starting") {
        phase = "stopping";
        for (const other of live) other.process.kill("SIGTERM");
        startFailed(new Error(`gateway worker ${slot} exited (${signal ?? code}) before every worker listened`));
        return;
      }
      if (phase === "stopping") {
        if (live.size === 0 && exitWhenDrained) process.exit(0);
        return;
      }
      const next = Date.now() - startedAt >= STABLE_MS ? firstDelay : Math.min(MAX_DELAY_MS, delay * 2);
      log?.error({ worker: slot, code, signal, restartInMs: next }, "gateway worker died; starting it again");
      setTimeout(() => {
        if (phase === "running") fork(slot, next);
      }, next).unref();
    });
  };

  const stop = (signal: NodeJS.Signals): void => {
    if (phase === "stopping") return;
    phase = "stopping";
    exitWhenDrained = true;
    log?.info({ signal, workers: live.size }, "stopping the gateway workers");
    if (live.size === 0) process.exit(0);
    if (signal === "SIGTERM") for (const worker of live) worker.process.kill("SIGTERM");
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  await new Promise<void>((resolve, reject) => {
    startFailed = reject;
    const listening = new Set<number>();
    const onListening = (worker: Worker): void => {
      listening.add(worker.id);
      if (listening.size < count || phase !== "starting") return;
      cluster.off("listening", onListening);
      phase = "running";
      resolve();
    };
    cluster.on("listening", onListening);
    for (let slot = 1; slot <= count; slot++) fork(slot, firstDelay);
  });
  log?.info({ workers: count }, "gateway workers listening");
}
