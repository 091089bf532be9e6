// The sliding-window estimate (the "two fixed windows, weighted" algorithm of
// Cloudflare and Kong): the previous window's count, weighted by how much of
// it still overlaps the sliding window, plus the current window's count. Two
// counters per caller instead of a log of timestamps, and no burst of 2× the
// limit at a window boundary as with plain fixed windows.

export interface WindowCounts {
  /** Requests counted in the previous fixed window. */
  readonly previous: number;
  /** Requests counted in the current fixed window, this one included. */
  readonly current: number;
  /** Milliseconds since the current fixed window began, in [0, windowMs). */
  readonly elapsedMs: number;
}

export interface WindowDecision {
  readonly allowed: boolean;
  /** Requests still allowed now (after this one, when allowed). */
  readonly remaining: number;
  /** Milliseconds until the next request would be allowed (0 when allowed and remaining > 0). */
  readonly retryAfterMs: number;
  /** Milliseconds until the current fixed window ends and its count starts to slide out. */
  readonly resetMs: number;
}

export function decide(counts: WindowCounts, limit: number, windowMs: number): WindowDecision {
  const { previous, current, elapsedMs } = counts;
  const overlap = (windowMs - elapsedMs) / windowMs;
  const estimate = previous * overlap + current;
  const resetMs = windowMs - elapsedMs;
  if (estimate <= limit) {
    const remaining = Math.max(0, Math.floor(limit - estimate));
    return { allowed: true, remaining, retryAfterMs: remaining > 0 ? 0 : waitMs(previous, current, elapsedMs, limit, windowMs), resetMs };
  }
  // Rejected requests are not counted (the caller takes this one back).
  return { allowed: false, remaining: 0, retryAfterMs: waitMs(previous, current - 1, elapsedMs, limit, windowMs), resetMs };
}

/** How long until one more request fits, given `counted` requests in the current window. */
function waitMs(previous: number, counted: number, elapsedMs: number, limit: number, windowMs: number): number {
  const room = limit - counted - 1;
  if (room >= 0 && previous > 0) {
    // Within this window, as the previous window's weight shrinks.
    const t = windowMs - elapsedMs - (room * windowMs) / previous;
    if (t <= windowMs - elapsedMs) return Math.max(1, Math.ceil(t));
  }
  if (room >= 0) return 1;
  // This window alone is full: wait for it to become the previous one and slide out.
  const next = counted <= 0 ? 0 : windowMs * (1 - (limit - 1) / counted);
  return Math.max(1, Math.ceil(windowMs - elapsedMs + Math.max(0, next)));
}
