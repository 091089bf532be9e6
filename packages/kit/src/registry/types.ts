/** One running copy of a service, as the registry knows it. */
export interface Instance {
  /** Unique per process start, e.g. `catalog-3f9a1c`. */
  id: string;
  /** The service name, e.g. `catalog`. */
  service: string;
  /** The build version; canary routing selects on it. */
  version: string;
  /** Where to call it: `http://127.0.0.1:7101` or `inproc://catalog-3f9a1c`. */
  address: string;
  /** Free-form labels (zone, track=canary, ...). */
  labels: Record<string, string>;
  /** Epoch milliseconds. */
  startedAt: number;
}

export type RegistryEvent =
  | { type: "up"; instance: Instance }
  | { type: "down"; instance: Instance; reason: "deregistered" | "expired" };

/** A live registration: heartbeats continue until `deregister`. */
export interface Registration {
  readonly instance: Instance;
  deregister(): Promise<void>;
}

/**
 * A registration whose heartbeats can be stopped and restarted without deregistering.
 * For tests only: it simulates a process that crashed or froze (watchers see "expired"
 * after the TTL) and one that came back. Both `memory` and `nats` registrations have it.
 */
export interface PausableRegistration extends Registration {
  pauseHeartbeats(): void;
  resumeHeartbeats(): void;
}

/** A live view of one service's instances, kept current by the registry. */
export interface Watch {
  /** The instances alive now; cheap, synchronous (the client calls it per request). */
  instances(): readonly Instance[];
  stop(): void;
}

/**
 * Service discovery. Implementations: `memory` (in-process) and `nats` (NATS KV,
 * heartbeats with a TTL). Resolve one from a URL with `createRegistry`.
 */
export interface Registry {
  register(instance: Instance): Promise<Registration>;
  /** Watches one service (or `*` for all); `onEvent` sees joins and deaths. Resolves once the current state is loaded. */
  watch(service: string, onEvent?: (event: RegistryEvent) => void): Promise<Watch>;
  close(): Promise<void>;
}
