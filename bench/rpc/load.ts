// Closed-loop load: `concurrency` workers each send a call as soon as the
// previous one answered, for a fixed time, after a warm-up that is not counted.

export interface LoadResult {
  concurrency: number;
  calls: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time per call in the client process, µs. */
  clientCpuUs: number;
  /** CPU time per call in the server process, µs (NaN when unknown). */
  serverCpuUs: number;
  /** CPU time per call in nats-server, µs (NaN when no broker or unknown). */
  brokerCpuUs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

async function phase(call: () => Promise<unknown>, concurrency: number, ms: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      try {
        await call();
        if (record) latencies.push(performance.now() - started);
      } catch (error) {
        errors++;
        firstError ??= error;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, errors, firstError, seconds: (performance.now() - started) / 1000 };
}

export async function measure(
  call: () => Promise<unknown>,
  concurrency: number,
  warmupMs: number,
  durationMs: number,
  serverCpu: () => Promise<number>,
  brokerCpu: () => number = () => Number.NaN,
): Promise<LoadResult> {
  await phase(call, concurrency, warmupMs, false);
  const server0 = await serverCpu();
  const broker0 = brokerCpu();
  const client0 = process.cpuUsage();
  const { latencies, errors, firstError, seconds } = await phase(call, concurrency, durationMs, true);
  const client = process.cpuUsage(client0);
  const broker = brokerCpu() - broker0;
  const server = (await serverCpu()) - server0;
  if (errors > 0) console.error(`  ${errors} calls failed; first: ${String(firstError)}`);
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency,
    calls: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    clientCpuUs: (client.user + client.system) / Math.max(1, latencies.length),
    serverCpuUs: server / Math.max(1, latencies.length),
    brokerCpuUs: broker / Math.max(1, latencies.length),
  };
}
