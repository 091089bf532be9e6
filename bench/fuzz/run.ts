// The gateway fuzz suite at a large count: the same properties as
// gateway/test/fuzz.test.ts (which `npm test` runs at 300), here 20 000 runs
// per property by default. A failure prints the seed and the shrunk
// counterexample; FLOTILLA_FUZZ_SEED replays it.
//
//   node bench/fuzz/run.ts                       # 20 000 runs, fixed seed
//   node bench/fuzz/run.ts --runs 50000 --seed random
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: process.env.FLOTILLA_FUZZ_RUNS ?? "20000" },
    seed: { type: "string", default: process.env.FLOTILLA_FUZZ_SEED ?? "20261125" },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs <= 0) {
  console.error(`--runs must be a positive integer, got "${values.runs}"`);
  process.exit(2);
}
const seed = values.seed === "random" ? String(Math.floor(Math.random() * 2 ** 31)) : values.seed;
if (!/^-?\d+$/.test(seed)) {
  console.error(`--seed must be an integer or "random", got "${values.seed}"`);
  process.exit(2);
}

const suite = fileURLToPath(new URL("../../gateway/test/fuzz.test.ts", import.meta.url));
console.log(`gateway fuzz: ${runs} runs per property, seed ${seed}`);
const started = performance.now();
const child = spawn(process.execPath, ["--test", "--test-force-exit", "--test-timeout=0", suite], {
  stdio: "inherit",
  env: { ...process.env, FLOTILLA_FUZZ_RUNS: String(runs), FLOTILLA_FUZZ_SEED: seed, FLOTILLA_LOG_LEVEL: process.env.FLOTILLA_LOG_LEVEL ?? "silent" },
});
child.on("exit", (code, signal) => {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`gateway fuzz: ${code === 0 ? "passed" : "FAILED"} in ${seconds} s (seed ${seed})`);
  process.exit(code ?? (signal === null ? 1 : 128));
});
