import { type KV, Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { kitErrors } from "../errors/index.ts";
import { checkWatchTarget, instanceKey } from "./instance-key.ts";
import { type HeartbeatRecord, openNatsWatch } from "./nats-watch.ts";
import { redactUrl } from "./redact-url.ts";
import type { Instance, PausableRegistration, Registry, RegistryEvent, Watch } from "./types.ts";
import { type WatchView, warnOnError } from "./watch-view.ts";

export type NatsRegistryOptions = ({ servers: string | string[] } | { connection: NatsConnection }) & {
  /** The KV bucket; created if missing. @default "flotilla_registry" */
  bucket?: string;
  /** How often a registration re-puts its entry. @default 1000 */
  heartbeatMs?: number;
  /** How long after its last heartbeat an instance counts as dead. @default 3000 */
  ttlMs?: number;
  /** How long the first connect may take (only when `servers` is given). @default 2000 */
  connectTimeoutMs?: number;
  /** Receives heartbeat failures and errors thrown by watch listeners. @default a process warning */
  onError?: (error: unknown) => void;
};

// nats-server 2.9 has no per-key TTL: entries of processes that died without
// deregistering are purged by the bucket's max age, this many TTLs.
const MAX_AGE_TTLS = 5;

function unavailable(message: string, cause: unknown) {
  return kitErrors.create("KIT_ERR_REGISTRY_UNAVAILABLE", message, { cause });
}

class NatsRegistration implements PausableRegistration {
  readonly instance: Instance;
  readonly #kv: KV;
  readonly #key: string;
  readonly #heartbeatMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #done: (registration: NatsRegistration) => void;
  #timer: NodeJS.Timeout | undefined;
  // One put at a time: a slow server must not pile heartbeats up, and a put
  // landing after the delete would bring the entry back.
  #inFlight: Promise<void> | undefined;
  #deregistered = false;

  constructor(init: { kv: KV; key: string; instance: Instance; heartbeatMs: number; onError: (error: unknown) => void; done: (registration: NatsRegistration) => void }) {
    this.#kv = init.kv;
    this.#key = init.key;
    this.instance = init.instance;
    this.#heartbeatMs = init.heartbeatMs;
    this.#onError = init.onError;
    this.#done = init.done;
  }

  /** Puts the entry (failing if that fails), then heartbeats. */
  async start(): Promise<void> {
    await this.#put();
    this.#schedule();
  }

  async deregister(): Promise<void> {
    if (this.#deregistered) return;
    this.#deregistered = true;
    clearInterval(this.#timer);
    await this.#inFlight;
    try {
      await this.#kv.delete(this.#key);
    } catch (cause) {
      throw unavailable(`cannot deregister ${this.#key}`, cause);
    } finally {
      this.#done(this);
    }
  }

  pauseHeartbeats(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  resumeHeartbeats(): void {
    if (this.#timer !== undefined || this.#deregistered) return;
    this.#beat();
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setInterval(() => this.#beat(), this.#heartbeatMs);
    this.#timer.unref();
  }

  // Failures are reported, never thrown: the next beat tries again, and watchers
  // expire the instance if the outage outlasts the TTL.
  #beat(): void {
    if (this.#inFlight !== undefined) return;
    this.#inFlight = this.#put()
      .catch((cause: unknown) => this.#onError(unavailable(`heartbeat for ${this.#key} failed`, cause)))
      .finally(() => {
        this.#inFlight = undefined;
      });
  }

  async #put(): Promise<void> {
    const record: HeartbeatRecord = { instance: this.instance, heartbeatAt: Date.now() };
    await this.#kv.put(this.#key, JSON.stringify(record));
  }
}

/**
 * Service discovery on a NATS KV bucket: each instance heartbeats `<service>.<id>`,
 * watchers follow the bucket and expire instances whose heartbeats stop.
 *
 *   const registry = await NatsRegistry.connect({ servers: "nats://127.0.0.1:4222" });
 *   const registration = await registry.register(instance);
 *   const catalog = await registry.watch("catalog");
 *   catalog.instances(); // alive now
 */
export class NatsRegistry implements Registry {
  readonly bucket: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  readonly #connection: NatsConnection;
  readonly #ownsConnection: boolean;
  readonly #kv: KV;
  readonly #onError: (error: unknown) => void;
  readonly #registrations = new Set<NatsRegistration>();
  readonly #views = new Set<WatchView>();
  #closed = false;

  private constructor(init: { connection: NatsConnection; ownsConnection: boolean; kv: KV; bucket: string; heartbeatMs: number; ttlMs: number; onError: (error: unknown) => void }) {
    this.#connection = init.connection;
    this.#ownsConnection = init.ownsConnection;
    this.#kv = init.kv;
    this.bucket = init.bucket;
    this.heartbeatMs = init.heartbeatMs;
    this.ttlMs = init.ttlMs;
    this.#onError = init.onError;
  }

  /** Connects (unless given a connection) and opens the bucket; fails with KIT_ERR_REGISTRY_UNAVAILABLE. */
  static async connect(options: NatsRegistryOptions): Promise<NatsRegistry> {
    const bucket = options.bucket ?? "flotilla_registry";
    const heartbeatMs = options.heartbeatMs ?? 1000;
    const ttlMs = options.ttlMs ?? 3000;
    if (!(heartbeatMs > 0 && ttlMs > heartbeatMs)) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `registry ttlMs (${ttlMs}) must exceed heartbeatMs (${heartbeatMs}) > 0`);
    }
    let connection: NatsConnection;
    if ("connection" in options) {
      connection = options.connection;
    } else {
      try {
        // No retries at first connect: a wrong URL should stop the process now.
        connection = await connect({ servers: options.servers, timeout: options.connectTimeoutMs ?? 2000, maxReconnectAttempts: -1, name: "flotilla-registry" });
      } catch (cause) {
        throw unavailable(`cannot connect to NATS at ${redactUrl([options.servers].flat().join(","))}`, cause);
      }
    }
    const ownsConnection = !("connection" in options);
    try {
      const kv = await new Kvm(connection).create(bucket, { history: 1, ttl: ttlMs * MAX_AGE_TTLS });
      return new NatsRegistry({ connection, ownsConnection, kv, bucket, heartbeatMs, ttlMs, onError: options.onError ?? warnOnError });
    } catch (cause) {
      if (ownsConnection) await connection.close().catch(() => {});
      throw unavailable(`cannot open the registry bucket "${bucket}" (is JetStream enabled?)`, cause);
    }
  }

  async register(instance: Instance): Promise<PausableRegistration> {
    this.#assertOpen();
    // A copy, so a caller mutating its object cannot change what heartbeats send.
    const copy = structuredClone(instance);
    const key = instanceKey(copy);
    const registration = new NatsRegistration({
      kv: this.#kv,
      key,
      instance: copy,
      heartbeatMs: this.heartbeatMs,
      onError: this.#onError,
      done: (r) => this.#registrations.delete(r),
    });
    try {
      await registration.start();
    } catch (cause) {
      throw unavailable(`cannot register ${key}`, cause);
    }
    this.#registrations.add(registration);
    if (this.#closed) {
      // close() ran while the first put was in flight and could not see this one.
      await registration.deregister();
      throw kitErrors.create("KIT_ERR_REGISTRY_UNAVAILABLE", "the registry is closed");
    }
    return registration;
  }

  async watch(service: string, onEvent?: (event: RegistryEvent) => void): Promise<Watch> {
    this.#assertOpen();
    checkWatchTarget(service);
    try {
      const view = await openNatsWatch({ kv: this.#kv, service, ttlMs: this.ttlMs, onEvent, onError: this.#onError, onStop: (v) => this.#views.delete(v) });
      this.#views.add(view);
      return view;
    } catch (cause) {
      throw unavailable(`cannot watch ${service}`, cause);
    }
  }

  /** Stops watches, deregisters this handle's instances, and closes the connection if it opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const view of [...this.#views]) view.stop();
    const results = await Promise.allSettled([...this.#registrations].map((r) => r.deregister()));
    for (const result of results) if (result.status === "rejected") this.#onError(result.reason);
    if (this.#ownsConnection) await this.#connection.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw kitErrors.create("KIT_ERR_REGISTRY_UNAVAILABLE", "the registry is closed");
  }
}
