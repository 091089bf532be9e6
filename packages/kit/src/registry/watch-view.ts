import type { Instance, RegistryEvent, Watch } from "./types.ts";

export interface WatchViewOptions {
  /** A service name, or `*` for all. */
  service: string;
  onEvent?: ((event: RegistryEvent) => void) | undefined;
  /** Receives what `onEvent` throws, so one bad listener cannot break the feed. */
  onError: (error: unknown) => void;
  onStop: () => void;
}

/**
 * The state behind a Watch, shared by every backend: the live instances keyed by
 * registry key, and the events a change produces. Backends decide when an instance
 * is up or down; this only keeps the view and tells the listener.
 */
export class WatchView implements Watch {
  readonly service: string;
  readonly #options: WatchViewOptions;
  readonly #live = new Map<string, Instance>();
  // Rebuilt only after a change: callers read instances() on every request.
  #snapshot: readonly Instance[] | undefined;
  #stopped = false;

  constructor(options: WatchViewOptions) {
    this.service = options.service;
    this.#options = options;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  matches(service: string): boolean {
    return this.service === "*" || this.service === service;
  }

  has(key: string): boolean {
    return this.#live.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#live.keys();
  }

  /** Adds or refreshes an instance; `notify` is false while the initial state loads. */
  put(key: string, instance: Instance, notify: boolean): void {
    const joined = !this.#live.has(key);
    this.#live.set(key, instance);
    this.#snapshot = undefined;
    if (joined && notify) this.#emit({ type: "up", instance });
  }

  remove(key: string, reason: "deregistered" | "expired"): void {
    const instance = this.#live.get(key);
    if (instance === undefined) return;
    this.#live.delete(key);
    this.#snapshot = undefined;
    this.#emit({ type: "down", instance, reason });
  }

  instances(): readonly Instance[] {
    this.#snapshot ??= Object.freeze([...this.#live.values()]);
    return this.#snapshot;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#options.onStop();
  }

  #emit(event: RegistryEvent): void {
    if (this.#stopped || this.#options.onEvent === undefined) return;
    try {
      this.#options.onEvent(event);
    } catch (error) {
      this.#options.onError(error);
    }
  }
}

/** The default sink for errors no caller asked to see: a process warning, never a crash. */
export function warnOnError(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : String(error), { type: "FlotillaRegistryWarning" });
}
