// One contender in a fresh process (so no JIT state or garbage carries over
// from another): start its server, measure c1 then cN, report to the runner.
import { processCpuMs } from "../support/engines.ts";
import { contenders } from "./contenders.ts";
import { measure } from "./load.ts";

const [name, warmup, duration, concurrency, natsUrl, natsPid] = process.argv.slice(2) as [string, string, string, string, string, string];
const contender = contenders.find((c) => c.name === name);
if (contender === undefined) throw new Error(`no contender ${name}`);

/** CPU time of the benchmark's own nats-server so far, µs, from /proc (Linux; NaN elsewhere or when the server is not ours). */
function brokerCpu(): number {
  if (!contender?.usesNats || natsPid === "0") return Number.NaN;
  return processCpuMs(Number(natsPid)) * 1000;
}

const running = await contender.start({ natsUrl, concurrency: Number(concurrency) });
try {
  const c1 = await measure(running.call, 1, Number(warmup), Number(duration), running.serverCpu, brokerCpu);
  const cN = await measure(running.call, Number(concurrency), Number(warmup), Number(duration), running.serverCpu, brokerCpu);
  process.send?.({ c1, cN });
} finally {
  await running.stop();
}
