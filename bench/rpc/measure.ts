// One contender in a fresh process (so no JIT state or garbage carries over
// from another): start its server, measure c1 then cN, report to the runner.
import { contenders } from "./contenders.ts";
import { measure } from "./load.ts";

const [name, warmup, duration, concurrency, natsUrl] = process.argv.slice(2) as [string, string, string, string, string];
const contender = contenders.find((c) => c.name === name);
if (contender === undefined) throw new Error(`no contender ${name}`);
const running = await contender.start({ natsUrl, concurrency: Number(concurrency) });
try {
  const c1 = await measure(running.call, 1, Number(warmup), Number(duration), running.serverCpu);
  const cN = await measure(running.call, Number(concurrency), Number(warmup), Number(duration), running.serverCpu);
  process.send?.({ c1, cN });
} finally {
  await running.stop();
}
