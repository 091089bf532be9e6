import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { kitErrors } from "../../errors/index.ts";

// AES-256-GCM with a random 96-bit IV. A data key encrypts one value or one
// batch, far below the 2^32 messages NIST SP 800-38D allows per key with random IVs.
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, sealed };
}

/** Throws KIT_ERR_CRYPTO_DECRYPT_FAILED when the tag does not verify (altered data, other AAD or key). */
export function open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array, what: string): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch (cause) {
    throw kitErrors.create("KIT_ERR_CRYPTO_DECRYPT_FAILED", `${what} failed authentication (altered, or read under another context or key)`, { cause });
  }
}
