// Fixed-window counters, two per caller (this window and the previous one)
// for the sliding-window estimate. Windows are aligned to the clock
// (`key:<window index>`), so every gateway replica computes the same estimate
// from the same shared counters.
//
// Shared (Redis): rate-limiter-flexible, which only offers fixed windows that
// start at a key's first hit, hence the index in the key. In this process: two
// plain maps (this window's counts, the previous one's), swapped when the
// window turns, and counted synchronously — no promise, timer or result
// object per request on the gateway's hot path (bench/gateway).
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { WindowCounts } from "./rate-limit-window.ts";

// The library rejects over `points`; the decision is ours, so never let it.
const UNLIMITED = 2 ** 31 - 1;

export interface CountedHit extends WindowCounts {
  /** Takes the hit back (a rejected request does not use up quota). */
  undo(): void | Promise<void>;
}

export interface WindowCounterOptions {
  readonly windowSec: number;
  readonly keyPrefix: string;
  /** Shared counters; absent: counted in this process (embedded runtime, tests). */
  readonly redis?: Redis | undefined;
}

export class WindowCounter {
  readonly windowMs: number;
  readonly #memory: MemoryWindows | undefined;
  readonly #shared: RateLimiterRedis | undefined;

  constructor(options: WindowCounterOptions) {
    this.windowMs = options.windowSec * 1000;
    if (options.redis === undefined) {
      this.#memory = new MemoryWindows();
      return;
    }
    // Each counter lives two windows: while current, then while it is the previous one.
    const base = { points: UNLIMITED, duration: options.windowSec * 2, keyPrefix: options.keyPrefix };
    // If Redis fails, count in memory until it is back: per-replica limits beat none.
    this.#shared = new RateLimiterRedis({ ...base, storeClient: options.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) });
  }

  /** Counts one request for `key`: a plain value in this process, a promise when the counters are shared. */
  hit(key: string, now = Date.now()): CountedHit | Promise<CountedHit> {
    const index = Math.floor(now / this.windowMs);
    const elapsedMs = now - index * this.windowMs;
    if (this.#memory !== undefined) return this.#memory.hit(key, index, elapsedMs);
    return this.#sharedHit(this.#shared!, key, index, elapsedMs);
  }

  async #sharedHit(limiter: RateLimiterRedis, key: string, index: number, elapsedMs: number): Promise<CountedHit> {
    const currentKey = `${key}:${index}`;
    const [current, previous] = await Promise.all([limiter.consume(currentKey, 1).catch(unwrap), limiter.get(`${key}:${index - 1}`)]);
    return {
      previous: previous?.consumedPoints ?? 0,
      current: current.consumedPoints,
      elapsedMs,
      undo: async () => {
        await limiter.reward(currentKey, 1);
      },
    };
  }
}

/**
 * This window's and the previous window's counts per key. A key lives at most
 * two windows: when the window turns, the current map becomes the previous one
 * and the old previous one is dropped whole (no timer per key).
 */
class MemoryWindows {
  #index = Number.NEGATIVE_INFINITY;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();

  hit(key: string, index: number, elapsedMs: number): CountedHit {
    if (index > this.#index) this.#turn(index);
    // A clock that stepped back into an earlier window counts in the current one: never less.
    const counts = this.#current;
    const current = (counts.get(key) ?? 0) + 1;
    counts.set(key, current);
    return {
      previous: this.#previous.get(key) ?? 0,
      current,
      elapsedMs,
      undo: () => {
        const n = counts.get(key);
        if (n !== undefined) counts.set(key, n - 1);
      },
    };
  }

  #turn(index: number): void {
    this.#previous = index === this.#index + 1 ? this.#current : new Map();
    this.#current = new Map();
    this.#index = index;
  }
}

// `consume` rejects with a RateLimiterRes over `points` (never here) and with an Error when the store fails.
function unwrap(reason: unknown): RateLimiterRes {
  if (reason instanceof RateLimiterRes) return reason;
  throw reason;
}
