import { createHmac, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import { open, seal } from "./aes-gcm.ts";
import { ENVELOPE_VERSION, formatEnvelope, parseEnvelope } from "./envelope.ts";
import type { FieldCipher, KeyProvider } from "./types.ts";

export interface FieldCipherOptions {
  keys: KeyProvider;
  /** Unwrapped data keys kept in memory, so reading a batch unwraps its key once (default 1000). */
  cacheSize?: number;
}

/**
 * Envelope encryption of column values: each value (or each `encryptMany`
 * batch) gets a random AES-256-GCM data key, wrapped by the master key of the
 * key provider; the context names the column and is bound as AAD, so a value
 * copied into another column does not decrypt.
 *
 *   const cipher = createFieldCipher({ keys: envKeyProvider(process.env) });
 *   const stored = await cipher.encrypt(email, "identity.accounts.email");
 *   const lookup = cipher.blindIndex(email, "identity.accounts.email");
 */
export function createFieldCipher(options: FieldCipherOptions): FieldCipher {
  const { keys } = options;
  const dataKeys = new LRUCache<string, Uint8Array>({ max: options.cacheSize ?? 1000 });

  const aad = (context: string) => Buffer.from(`${ENVELOPE_VERSION}:${context}`);

  async function encryptMany(plaintexts: readonly string[], context: string): Promise<string[]> {
    if (plaintexts.length === 0) return [];
    const dataKey = randomBytes(32);
    const { keyId, wrapped } = await keys.wrap(dataKey);
    const w = Buffer.from(wrapped);
    return plaintexts.map((p) => {
      const { iv, sealed } = seal(dataKey, Buffer.from(p, "utf8"), aad(context));
      return formatEnvelope({ keyId, wrapped: w, iv, sealed });
    });
  }

  async function decrypt(stored: string, context: string): Promise<string> {
    const e = parseEnvelope(stored);
    const cacheKey = `${e.keyId}.${e.wrapped.toString("base64url")}`;
    let dataKey = dataKeys.get(cacheKey);
    if (!dataKey) {
      dataKey = await keys.unwrap(e.keyId, e.wrapped);
      dataKeys.set(cacheKey, dataKey);
    }
    return open(dataKey, e.iv, e.sealed, aad(context), "the encrypted value").toString("utf8");
  }

  return {
    encryptMany,
    async encrypt(plaintext, context) {
      return (await encryptMany([plaintext], context))[0] as string;
    },
    decrypt,
    blindIndex(plaintext, context) {
      return createHmac("sha256", keys.indexKey(context)).update(plaintext, "utf8").digest("base64url");
    },
    keyIdOf: (stored) => parseEnvelope(stored).keyId,
    needsReencryption: (stored) => parseEnvelope(stored).keyId !== keys.currentKeyId(),
    async reencrypt(stored, context) {
      return (await encryptMany([await decrypt(stored, context)], context))[0] as string;
    },
  };
}
