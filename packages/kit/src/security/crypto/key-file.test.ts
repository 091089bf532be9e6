import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { envKeyProvider } from "./env-key-provider.ts";
import { ensureMasterKeyFile, useLocalMasterKey } from "./key-file.ts";

test("the local master key is generated once, owner-only, and reused", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-key-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = ensureMasterKeyFile(join(dir, "data"));
  assert.equal(Buffer.from(first, "base64").length, 32);
  assert.equal(ensureMasterKeyFile(join(dir, "data")), first);
  assert.equal(statSync(join(dir, "data", "master.key")).mode & 0o077, 0);

  const env: NodeJS.ProcessEnv = {};
  useLocalMasterKey(env, join(dir, "data"));
  assert.equal(env.FLOTILLA_MASTER_KEY, first);
  assert.equal(envKeyProvider(env).currentKeyId(), "k1");
  const given: NodeJS.ProcessEnv = { FLOTILLA_MASTER_KEYS: "x" };
  useLocalMasterKey(given, join(dir, "data"));
  assert.equal(given.FLOTILLA_MASTER_KEY, undefined);
});
