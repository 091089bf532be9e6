import { type KV, type KvEntry, KvWatchInclude } from "@nats-io/kv";
import type { Instance, RegistryEvent } from "./types.ts";
import { WatchView } from "./watch-view.ts";

/** What a heartbeat stores under `<service>.<id>`. */
export interface HeartbeatRecord {
  instance: Instance;
  /** Epoch milliseconds on the writer's clock. */
  heartbeatAt: number;
}

export interface NatsWatchOptions {
  kv: KV;
  service: string;
  ttlMs: number;
  onEvent?: ((event: RegistryEvent) => void) | undefined;
  onError: (error: unknown) => void;
  onStop: (view: WatchView) => void;
}

function parse(entry: KvEntry): HeartbeatRecord | undefined {
  try {
    const record = entry.json<Partial<HeartbeatRecord> | null>();
    const instance = record?.instance;
    if (typeof record?.heartbeatAt === "number" && typeof instance?.id === "string" && typeof instance.service === "string") {
      return { instance, heartbeatAt: record.heartbeatAt };
    }
  } catch {
    // Reported below, like any other malformed entry.
  }
  return undefined;
}

/**
 * Follows one service (or `*`) in the bucket. nats-server 2.9 has no per-key TTL,
 * so liveness is judged here: an instance is alive while its last heartbeat is
 * younger than `ttlMs`, and a local sweep expires the rest.
 *
 * Resolves once the current state is loaded; entries in it produce no events.
 */
export async function openNatsWatch(options: NatsWatchOptions): Promise<WatchView> {
  const { kv, ttlMs } = options;
  const key = options.service === "*" ? ">" : `${options.service}.*`;
  // Local receive time of each live instance's last heartbeat.
  const beats = new Map<string, number>();

  // The update feed opens before the history is read, so nothing written in
  // between is missed; entries the history already covered are skipped by revision.
  const updates = await kv.watch({ key, include: KvWatchInclude.UpdatesOnly });
  let sweep: NodeJS.Timeout | undefined;
  const view: WatchView = new WatchView({
    service: options.service,
    onEvent: options.onEvent,
    onError: options.onError,
    onStop: () => {
      updates.stop();
      clearInterval(sweep);
      options.onStop(view);
    },
  });

  const apply = (entry: KvEntry, initial: boolean): void => {
    if (entry.operation !== "PUT") {
      beats.delete(entry.key);
      view.remove(entry.key, "deregistered");
      return;
    }
    const record = parse(entry);
    if (record === undefined) {
      options.onError(new Error(`registry entry ${entry.key} is not a heartbeat record`));
      return;
    }
    // Live updates are timed on arrival, which no clock skew between hosts can
    // distort; the initial state only has the writer's clock to go by.
    const now = Date.now();
    const at = initial ? Math.min(record.heartbeatAt, now) : now;
    // An old entry is a process that died without deregistering and whose key
    // the bucket's max age has not purged yet.
    if (now - at >= ttlMs) return;
    beats.set(entry.key, at);
    view.put(entry.key, record.instance, !initial);
  };

  let loaded = 0;
  try {
    for await (const entry of await kv.history({ key })) {
      apply(entry, true);
      loaded = Math.max(loaded, entry.revision);
    }
  } catch (error) {
    view.stop();
    throw error;
  }

  void (async () => {
    for await (const entry of updates) {
      if (entry.revision > loaded) apply(entry, false);
    }
  })().catch(options.onError);

  sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [k, at] of beats) {
        if (now - at < ttlMs) continue;
        beats.delete(k);
        view.remove(k, "expired");
      }
    },
    Math.max(20, Math.floor(ttlMs / 4)),
  );
  sweep.unref();
  return view;
}
