import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";

test("committed generated code matches the contracts", () => {
  const root = join(import.meta.dirname, "..");
  const r = spawnSync(process.execPath, ["scripts/generate.ts", "--check"], { cwd: root, encoding: "utf8", env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` } });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /up to date/);
});
