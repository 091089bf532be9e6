import { kitErrors } from "../errors/index.ts";
import { checkWatchTarget, instanceKey } from "./instance-key.ts";
import type { Instance, PausableRegistration, Registry, RegistryEvent, Watch } from "./types.ts";
import { WatchView, warnOnError } from "./watch-view.ts";

export interface MemoryWorldOptions {
  /** How long a registration whose heartbeats stopped still counts as alive. @default 3000 */
  ttlMs?: number;
}

interface Entry {
  instance: Instance;
  // Set while heartbeats are paused: fires the expiry.
  expiry: NodeJS.Timeout | undefined;
}

/**
 * The shared state of in-process registries. Every MemoryRegistry built on the same
 * world sees the others' instances, as processes sharing one NATS bucket do.
 *
 *   const world = new MemoryWorld();
 *   const gateway = new MemoryRegistry({ world });
 *   const catalog = new MemoryRegistry({ world });
 */
export class MemoryWorld {
  readonly ttlMs: number;
  readonly #alive = new Map<string, Entry>();
  readonly #views = new Set<WatchView>();

  constructor(options: MemoryWorldOptions = {}) {
    this.ttlMs = options.ttlMs ?? 3000;
  }

  /** Registers, refreshes, or brings back an instance that expired. */
  put(key: string, instance: Instance): void {
    clearTimeout(this.#alive.get(key)?.expiry);
    this.#alive.set(key, { instance, expiry: undefined });
    for (const view of this.#viewsOf(instance.service)) view.put(key, instance, true);
  }

  delete(key: string): void {
    const entry = this.#alive.get(key);
    if (entry === undefined) return;
    clearTimeout(entry.expiry);
    this.#alive.delete(key);
    for (const view of this.#viewsOf(entry.instance.service)) view.remove(key, "deregistered");
  }

  /** Stops the heartbeats of `key`: it expires after the TTL unless `put` comes first. */
  pause(key: string): void {
    const entry = this.#alive.get(key);
    if (entry === undefined || entry.expiry !== undefined) return;
    entry.expiry = setTimeout(() => {
      this.#alive.delete(key);
      for (const view of this.#viewsOf(entry.instance.service)) view.remove(key, "expired");
    }, this.ttlMs);
    entry.expiry.unref();
  }

  /** Adds a view, loaded with the instances alive now. */
  attach(view: WatchView): void {
    for (const [key, entry] of this.#alive) if (view.matches(entry.instance.service)) view.put(key, entry.instance, false);
    this.#views.add(view);
  }

  detach(view: WatchView): void {
    this.#views.delete(view);
  }

  #viewsOf(service: string): WatchView[] {
    return [...this.#views].filter((view) => view.matches(service));
  }
}

export interface MemoryRegistryOptions {
  /** Share a world to see other registries' instances; by default each registry is its own world. */
  world?: MemoryWorld;
  /** The TTL of a new world (ignored when `world` is given). @default 3000 */
  ttlMs?: number;
  /** Receives errors thrown by watch listeners. @default a process warning */
  onError?: (error: unknown) => void;
}

class MemoryRegistration implements PausableRegistration {
  readonly instance: Instance;
  readonly #world: MemoryWorld;
  readonly #key: string;
  readonly #done: (registration: MemoryRegistration) => void;
  #paused = false;
  #deregistered = false;

  constructor(world: MemoryWorld, key: string, instance: Instance, done: (registration: MemoryRegistration) => void) {
    this.#world = world;
    this.#key = key;
    this.instance = instance;
    this.#done = done;
  }

  async deregister(): Promise<void> {
    if (this.#deregistered) return;
    this.#deregistered = true;
    this.#world.delete(this.#key);
    this.#done(this);
  }

  pauseHeartbeats(): void {
    if (this.#deregistered || this.#paused) return;
    this.#paused = true;
    this.#world.pause(this.#key);
  }

  resumeHeartbeats(): void {
    if (this.#deregistered || !this.#paused) return;
    this.#paused = false;
    this.#world.put(this.#key, this.instance);
  }
}

/** The in-process registry: no sockets, no timers while instances are healthy. */
export class MemoryRegistry implements Registry {
  readonly world: MemoryWorld;
  readonly #onError: (error: unknown) => void;
  readonly #registrations = new Set<MemoryRegistration>();
  readonly #views = new Set<WatchView>();
  #closed = false;

  constructor(options: MemoryRegistryOptions = {}) {
    this.world = options.world ?? new MemoryWorld(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs });
    this.#onError = options.onError ?? warnOnError;
  }

  async register(instance: Instance): Promise<PausableRegistration> {
    this.#assertOpen();
    // A copy, so a caller mutating its object cannot change what watchers hold.
    const copy = structuredClone(instance);
    const key = instanceKey(copy);
    const registration = new MemoryRegistration(this.world, key, copy, (r) => this.#registrations.delete(r));
    this.#registrations.add(registration);
    this.world.put(key, copy);
    return registration;
  }

  async watch(service: string, onEvent?: (event: RegistryEvent) => void): Promise<Watch> {
    this.#assertOpen();
    checkWatchTarget(service);
    const view: WatchView = new WatchView({
      service,
      onEvent,
      onError: this.#onError,
      onStop: () => {
        this.world.detach(view);
        this.#views.delete(view);
      },
    });
    this.world.attach(view);
    this.#views.add(view);
    return view;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const view of [...this.#views]) view.stop();
    await Promise.all([...this.#registrations].map((r) => r.deregister()));
  }

  #assertOpen(): void {
    if (this.#closed) throw kitErrors.create("KIT_ERR_REGISTRY_UNAVAILABLE", "the registry is closed");
  }
}
