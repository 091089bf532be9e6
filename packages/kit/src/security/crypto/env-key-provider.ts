import { kitErrors } from "../../errors/index.ts";
import { localKeyProvider } from "./local-key-provider.ts";
import type { KeyProvider } from "./types.ts";

/** The environment variables read by `envKeyProvider` (documented in docs/configuration.md). */
export const masterKeyEnv = {
  key: "FLOTILLA_MASTER_KEY",
  keys: "FLOTILLA_MASTER_KEYS",
  keyId: "FLOTILLA_MASTER_KEY_ID",
  indexKeyId: "FLOTILLA_BLIND_INDEX_KEY_ID",
} as const;

/**
 * Master keys from the environment. Either one key:
 *
 *   FLOTILLA_MASTER_KEY=<base64 of 32 bytes>        (id: FLOTILLA_MASTER_KEY_ID, default "k1")
 *
 * or several during a rotation, the current one named:
 *
 *   FLOTILLA_MASTER_KEYS=k1:<base64>,k2:<base64>  FLOTILLA_MASTER_KEY_ID=k2
 *
 * Blind indexes derive from FLOTILLA_BLIND_INDEX_KEY_ID (default: the first key
 * listed), so rotating the master key does not invalidate stored indexes.
 * Errors name the variable, never its value.
 */
export function envKeyProvider(env: NodeJS.ProcessEnv = process.env): KeyProvider {
  const single = env[masterKeyEnv.key];
  const list = env[masterKeyEnv.keys];
  if (single && list) throw invalid(`set either ${masterKeyEnv.key} or ${masterKeyEnv.keys}, not both`);
  const keys: Record<string, Uint8Array> = {};
  const order: string[] = [];
  if (list) {
    for (const entry of list.split(",").map((s) => s.trim())) {
      const colon = entry.indexOf(":");
      if (colon <= 0) throw invalid(`${masterKeyEnv.keys} entries must be id:base64`);
      const id = entry.slice(0, colon);
      if (keys[id]) throw invalid(`${masterKeyEnv.keys} lists the id ${JSON.stringify(id.slice(0, 70))} twice`);
      keys[id] = decodeKey(entry.slice(colon + 1), `${masterKeyEnv.keys} (key ${JSON.stringify(id.slice(0, 70))})`);
      order.push(id);
    }
  } else if (single) {
    const id = env[masterKeyEnv.keyId] || "k1";
    keys[id] = decodeKey(single, masterKeyEnv.key);
    order.push(id);
  } else {
    throw invalid(`${masterKeyEnv.key} is required (base64 of 32 random bytes, e.g. \`openssl rand -base64 32\`)`);
  }
  const currentKeyId = env[masterKeyEnv.keyId] || (order.length === 1 ? order[0] : undefined);
  if (!currentKeyId) throw invalid(`${masterKeyEnv.keyId} is required when ${masterKeyEnv.keys} lists several keys`);
  if (!keys[currentKeyId]) throw invalid(`${masterKeyEnv.keyId} names a key that ${list ? masterKeyEnv.keys : masterKeyEnv.key} does not hold`);
  const indexKeyId = env[masterKeyEnv.indexKeyId] || order[0];
  if (!indexKeyId || !keys[indexKeyId]) throw invalid(`${masterKeyEnv.indexKeyId} names a key that is not configured`);
  return localKeyProvider({ keys, currentKeyId, indexKeyId });
}

function decodeKey(raw: string, name: string): Uint8Array {
  const trimmed = raw.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw invalid(`${name} is not base64`);
  const bytes = Buffer.from(trimmed, trimmed.includes("-") || trimmed.includes("_") ? "base64url" : "base64");
  if (bytes.length !== 32) throw invalid(`${name} must decode to 32 bytes (got ${bytes.length})`);
  return bytes;
}

function invalid(message: string) {
  return kitErrors.create("KIT_ERR_CONFIG_INVALID", `invalid configuration: ${message}`);
}
