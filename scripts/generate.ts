// npm run generate: compiles proto/ with buf and protoc-gen-es into
// packages/contracts/gen. With --check, generates into a temporary folder and
// fails if the committed code differs (run by the test suite).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { writeProtoDeps } from "./lib/proto-deps.ts";

const root = join(import.meta.dirname, "..");
const check = process.argv.includes("--check");
writeProtoDeps(root);

const buf = (args: string[]) => execFileSync("buf", args, { cwd: root, stdio: "inherit" });
buf(["lint", "proto"]);
const paths = ["--path", "proto/flotilla", "--path", ".proto-deps/google"];
if (!check) {
  buf(["generate", ...paths]);
  console.log("generated packages/contracts/gen");
} else {
  const out = mkdtempSync(join(tmpdir(), "flotilla-gen-"));
  try {
    buf(["generate", ...paths, "-o", out]);
    const fresh = listFiles(join(out, "packages/contracts/gen"));
    const committed = listFiles(join(root, "packages/contracts/gen"));
    const stale = [...new Set([...fresh.keys(), ...committed.keys()])].filter((f) => fresh.get(f) !== committed.get(f));
    if (stale.length > 0) {
      console.error(`generated code is stale; run npm run generate. Differs: ${stale.join(", ")}`);
      process.exit(1);
    }
    console.log(`generated code is up to date (${fresh.size} files)`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  try {
    walk(dir);
  } catch {
    // a missing folder compares as empty
  }
  return files;
}
