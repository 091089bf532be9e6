// The one test runner for the repo: Node's own, over explicit file patterns.
// Fails when the patterns find no test file, so a broken glob cannot pass.
import { spawnSync } from "node:child_process";
import { globSync } from "node:fs";

const patterns = [
  "scripts/**/*.test.ts",
  "packages/*/src/**/*.test.ts",
  "packages/*/test/**/*.test.ts",
  "gateway/src/**/*.test.ts",
  "gateway/test/**/*.test.ts",
  "services/*/src/**/*.test.ts",
  "services/*/test/**/*.test.ts",
  "test/**/*.test.ts",
];
const filter = process.argv.slice(2);
let files = patterns.flatMap((p) => globSync(p, { exclude: (f) => f.includes("node_modules") }));
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filter.length > 0 ? filter.join(" ") : patterns.join(" ")}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  // --test-force-exit: a file whose test left a handle open (a reconnecting client after a
  // failed assertion) must fail and end, not hang the run.
  ["--test", "--test-force-exit", "--test-concurrency=3", "--test-timeout=180000", "--test-reporter=spec", ...files],
  { stdio: "inherit", env: { ...process.env, FLOTILLA_LOG_LEVEL: process.env.FLOTILLA_LOG_LEVEL ?? "silent" } },
);
process.exit(result.status ?? 1);
