// Latency samples and the figures printed for them.

export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function summarise(samples: readonly number[]): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number));
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number) };
}

/** Milliseconds on a clock that two processes on this machine share (sub-millisecond resolution). */
export const now = (): number => performance.timeOrigin + performance.now();

/**
 * A warm-up then a measured window, on the wall clock of this process. Work
 * counts toward the window when it *finishes* inside it (throughput); latency
 * samples are kept for items that *started* inside it, even when they finish
 * after it, so a backlog shows in p99 rather than being cut off.
 */
export class Window {
  readonly start: number;
  readonly end: number;

  constructor(warmupMs: number, durationMs: number) {
    this.start = now() + warmupMs;
    this.end = this.start + durationMs;
  }

  get seconds(): number {
    return (this.end - this.start) / 1000;
  }

  contains(t: number): boolean {
    return t >= this.start && t < this.end;
  }

  over(): boolean {
    return now() >= this.end;
  }

  /** Resolves when the measured window has ended. */
  async done(): Promise<void> {
    const left = this.end - now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }
}

/** Waits until `check` holds or `timeoutMs` passed; returns whether it held. */
export async function settle(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
