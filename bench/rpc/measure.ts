// One contender in a fresh process (so no JIT state or garbage carries over
// from another): start its server, measure c1 then cN, report to the runner.
import { readFileSync } from "node:fs";
import { contenders } from "./contenders.ts";
import { measure } from "./load.ts";

const [name, warmup, duration, concurrency, natsUrl, natsPid] = process.argv.slice(2) as [string, string, string, string, string, string];
const contender = contenders.find((c) => c.name === name);
if (contender === undefined) throw new Error(`no contender ${name}`);

/** CPU time of the benchmark's own nats-server so far, µs, from /proc (Linux; NaN elsewhere or when the server is not ours). */
function brokerCpu(): number {
  if (!contender?.usesNats || natsPid === "0") return Number.NaN;
  try {
    // Fields 14 and 15 (utime, stime), in clock ticks of 10 ms; the name in field 2 has no spaces here.
    const fields = readFileSync(`/proc/${natsPid}/stat`, "utf8").split(" ");
    return (Number(fields[13]) + Number(fields[14])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

const running = await contender.start({ natsUrl, concurrency: Number(concurrency) });
try {
  const c1 = await measure(running.call, 1, Number(warmup), Number(duration), running.serverCpu, brokerCpu);
  const cN = await measure(running.call, Number(concurrency), Number(warmup), Number(duration), running.serverCpu, brokerCpu);
  process.send?.({ c1, cN });
} finally {
  await running.stop();
}
