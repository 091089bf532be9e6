import type { FlotillaError } from "../errors/index.ts";
import type { Instance } from "../registry/types.ts";
import { TransportFailure } from "../transport/transport-failure.ts";

/** What the balancer knows of one instance. */
export interface InstanceLoad {
  inFlight: number;
  /** Smoothed latency of successful calls, ms; 0 before the first. */
  latencyMs: number;
  /** Consecutive transport failures. */
  failures: number;
  /** Skipped by `pick` until this epoch ms (after a transport failure). */
  ejectedUntil: number;
}

const ALPHA = 0.3;

function better(a: InstanceLoad, b: InstanceLoad): boolean {
  if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight;
  return a.latencyMs <= b.latencyMs;
}

/**
 * Power of two choices: sample two instances, send to the one with fewer
 * calls in flight (then the lower smoothed latency). It avoids both herding
 * on one "best" instance and the blindness of round robin to slow ones.
 * Instances whose transport just failed are ejected for a while, since a dead
 * one answers fastest and would otherwise attract the traffic.
 */
export class Balancer {
  readonly #loads = new Map<string, InstanceLoad>();
  readonly #random: () => number;
  readonly #ejectMs: number;
  readonly #ejectMaxMs: number;

  constructor(options: { random: () => number; ejectMs: number; ejectMaxMs: number }) {
    this.#random = options.random;
    this.#ejectMs = options.ejectMs;
    this.#ejectMaxMs = options.ejectMaxMs;
  }

  load(instance: Instance): InstanceLoad {
    let load = this.#loads.get(instance.id);
    if (load === undefined) {
      load = { inFlight: 0, latencyMs: 0, failures: 0, ejectedUntil: 0 };
      this.#loads.set(instance.id, load);
    }
    return load;
  }

  /** Picks an instance, avoiding `tried` (earlier attempts of this call) when there is another. */
  pick(instances: readonly Instance[], tried?: readonly Instance[]): Instance | undefined {
    const n = instances.length;
    if (n <= 1) return instances[0];
    if (this.#loads.size > 2 * n + 16) this.#prune(instances);
    const now = Date.now();
    if (tried === undefined) {
      const i = Math.floor(this.#random() * n);
      let j = Math.floor(this.#random() * (n - 1));
      if (j >= i) j++;
      const a = instances[i] as Instance;
      const b = instances[j] as Instance;
      const la = this.load(a);
      const lb = this.load(b);
      if (la.ejectedUntil <= now && lb.ejectedUntil <= now) return better(la, lb) ? a : b;
    }
    const untried = tried === undefined ? instances : instances.filter((x) => !tried.some((t) => t.id === x.id));
    let pool = untried.filter((x) => this.load(x).ejectedUntil <= now);
    if (pool.length === 0) pool = untried.length > 0 ? [...untried] : [...instances];
    if (pool.length === 1) return pool[0];
    const i = Math.floor(this.#random() * pool.length);
    let j = Math.floor(this.#random() * (pool.length - 1));
    if (j >= i) j++;
    const a = pool[i] as Instance;
    const b = pool[j] as Instance;
    return better(this.load(a), this.load(b)) ? a : b;
  }

  succeeded(load: InstanceLoad, elapsedMs: number): void {
    load.latencyMs = load.latencyMs === 0 ? elapsedMs : load.latencyMs + ALPHA * (elapsedMs - load.latencyMs);
    load.failures = 0;
  }

  failed(load: InstanceLoad, error: FlotillaError): void {
    // Only failures of the instance itself eject it, not the errors its handlers answer.
    if (!(error.cause instanceof TransportFailure) && error.code !== "KIT_ERR_DRAINING") return;
    load.failures++;
    load.ejectedUntil = Date.now() + Math.min(this.#ejectMs * 2 ** (load.failures - 1), this.#ejectMaxMs);
  }

  #prune(instances: readonly Instance[]): void {
    const alive = new Set(instances.map((x) => x.id));
    for (const id of this.#loads.keys()) if (!alive.has(id)) this.#loads.delete(id);
  }
}
