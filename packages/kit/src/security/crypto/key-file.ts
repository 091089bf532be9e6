import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kitErrors } from "../../errors/index.ts";

/**
 * The local master key of `flotilla dev` and `flotilla up`: generated once into
 * the data folder (owner-only file), read back at every start so encrypted
 * columns stay readable. Production takes FLOTILLA_MASTER_KEY from a secret store.
 * Returns the key as base64, ready for FLOTILLA_MASTER_KEY.
 */
export function ensureMasterKeyFile(dataDir: string): string {
  const path = join(dataDir, "master.key");
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(path, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const key = readFileSync(path, "utf8").trim();
  if (Buffer.from(key, "base64").length !== 32) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `the master key file master.key in the data folder is not base64 of 32 bytes`);
  return key;
}

/** Sets FLOTILLA_MASTER_KEY from the data folder unless the environment already names master keys. */
export function useLocalMasterKey(env: NodeJS.ProcessEnv, dataDir: string): void {
  if (env.FLOTILLA_MASTER_KEY || env.FLOTILLA_MASTER_KEYS) return;
  env.FLOTILLA_MASTER_KEY = ensureMasterKeyFile(dataDir);
}
