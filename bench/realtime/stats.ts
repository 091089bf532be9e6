// Latency percentiles and the clock the benchmark's processes share.

/** Milliseconds on a clock that every process on this machine shares (sub-millisecond resolution). */
export const wallClock = (): number => performance.timeOrigin + performance.now();

export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarise(samples: ArrayLike<number>): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number));
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number) };
}
