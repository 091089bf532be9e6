import { hkdfSync } from "node:crypto";
import { kitErrors } from "../../errors/index.ts";
import { open, seal } from "./aes-gcm.ts";
import { KEY_ID_PATTERN } from "./envelope.ts";
import type { KeyProvider, WrappedKey } from "./types.ts";

export interface LocalKeysOptions {
  /** Master keys by id, 32 bytes each; old ones stay listed until re-encryption is done. */
  keys: Readonly<Record<string, Uint8Array>>;
  /** The key new values are written with. */
  currentKeyId: string;
  /** The key blind indexes derive from; fixed across rotations. Defaults to the current key. */
  indexKeyId?: string;
}

const WRAP_AAD_PREFIX = "flotilla.data-key.v1:";
const INDEX_SALT = Buffer.from("flotilla.blind-index.v1");

/**
 * Master keys held in process memory (from the environment, a file, or a test).
 * Data keys are wrapped with AES-256-GCM under the master key, the key id bound
 * as AAD so a wrapped key cannot be replayed under another id.
 */
export function localKeyProvider(options: LocalKeysOptions): KeyProvider {
  const keys = new Map<string, Buffer>();
  for (const [id, key] of Object.entries(options.keys)) {
    if (!KEY_ID_PATTERN.test(id)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `master key id ${JSON.stringify(id.slice(0, 70))} must match ${KEY_ID_PATTERN}`);
    if (key.length !== 32) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `master key ${id} must be 32 bytes, got ${key.length}`);
    keys.set(id, Buffer.from(key));
  }
  const current = options.currentKeyId;
  const indexId = options.indexKeyId ?? current;
  if (!keys.has(current)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `the current master key id ${JSON.stringify(current)} is not among the keys`);
  if (!keys.has(indexId)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `the blind-index key id ${JSON.stringify(indexId)} is not among the keys`);
  const indexRoot = keys.get(indexId) as Buffer;
  const indexKeys = new Map<string, Uint8Array>();

  return {
    currentKeyId: () => current,
    async wrap(dataKey: Uint8Array): Promise<WrappedKey> {
      const { iv, sealed } = seal(keys.get(current) as Buffer, dataKey, Buffer.from(WRAP_AAD_PREFIX + current));
      return { keyId: current, wrapped: Buffer.concat([iv, sealed]) };
    },
    async unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array> {
      const key = keys.get(keyId);
      if (!key) throw kitErrors.create("KIT_ERR_CRYPTO_UNKNOWN_KEY", `no master key with id ${JSON.stringify(keyId)}`);
      if (wrapped.length !== 12 + 32 + 16) throw kitErrors.create("KIT_ERR_CRYPTO_MALFORMED", "the wrapped data key has the wrong length");
      return open(key, wrapped.subarray(0, 12), wrapped.subarray(12), Buffer.from(WRAP_AAD_PREFIX + keyId), "the wrapped data key");
    },
    indexKey(domain: string): Uint8Array {
      let k = indexKeys.get(domain);
      if (!k) {
        k = new Uint8Array(hkdfSync("sha256", indexRoot, INDEX_SALT, Buffer.from(domain), 32));
        indexKeys.set(domain, k);
      }
      return k;
    },
  };
}
