// Fixed-window counters on rate-limiter-flexible, two per caller (this
// window and the previous one) for the sliding-window estimate. The library
// only offers fixed windows that start at a key's first hit; aligning windows
// to the clock (`key:<window index>`) lets every gateway replica compute the
// same estimate from the same shared counters.
import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { WindowCounts } from "./rate-limit-window.ts";

// The library rejects over `points`; the decision is ours, so never let it.
const UNLIMITED = 2 ** 31 - 1;

export interface CountedHit extends WindowCounts {
  /** Takes the hit back (a rejected request does not use up quota). */
  undo(): Promise<void>;
}

export class WindowCounter {
  readonly windowMs: number;
  readonly #limiter: RateLimiterAbstract;

  /** Without `redis`, counts in this process (embedded runtime, tests). */
  constructor(options: { windowSec: number; keyPrefix: string; redis?: Redis | undefined }) {
    this.windowMs = options.windowSec * 1000;
    // Each counter lives two windows: while current, then while it is the previous one.
    const base = { points: UNLIMITED, duration: options.windowSec * 2, keyPrefix: options.keyPrefix };
    this.#limiter =
      options.redis === undefined
        ? new RateLimiterMemory(base)
        : // If Redis fails, count in memory until it is back: per-replica limits beat none.
          new RateLimiterRedis({ ...base, storeClient: options.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(base) });
  }

  async hit(key: string, now = Date.now()): Promise<CountedHit> {
    const index = Math.floor(now / this.windowMs);
    const currentKey = `${key}:${index}`;
    const [current, previous] = await Promise.all([this.#limiter.consume(currentKey, 1).catch(unwrap), this.#limiter.get(`${key}:${index - 1}`)]);
    return {
      previous: previous?.consumedPoints ?? 0,
      current: current.consumedPoints,
      elapsedMs: now - index * this.windowMs,
      undo: async () => {
        await this.#limiter.reward(currentKey, 1);
      },
    };
  }
}

// `consume` rejects with a RateLimiterRes over `points` (never here) and with an Error when the store fails.
function unwrap(reason: unknown): RateLimiterRes {
  if (reason instanceof RateLimiterRes) return reason;
  throw reason;
}
