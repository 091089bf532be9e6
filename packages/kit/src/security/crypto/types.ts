/**
 * Where master keys live. The field cipher never sees a master key: it asks the
 * provider to wrap and unwrap its random data keys, so a cloud KMS (wrap/unwrap
 * are its Encrypt/Decrypt calls) fits behind the same interface as the
 * environment provider.
 */
export interface KeyProvider {
  /** The key id new data keys are wrapped with. Ids match /^[A-Za-z0-9_-]{1,64}$/. */
  currentKeyId(): string;
  /** Encrypts a data key with the current master key. */
  wrap(dataKey: Uint8Array): Promise<WrappedKey>;
  /** Decrypts a data key wrapped earlier by the key `keyId`; throws KIT_ERR_CRYPTO_UNKNOWN_KEY if that key is gone. */
  unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array>;
  /**
   * The 32-byte secret blind indexes of `domain` are keyed with. It must not change
   * when master keys rotate, or every stored index would stop matching.
   */
  indexKey(domain: string): Uint8Array;
}

export interface WrappedKey {
  keyId: string;
  wrapped: Uint8Array;
}

/** Encrypts single column values; `context` names the column (`identity.accounts.email`) and is bound as AAD. */
export interface FieldCipher {
  encrypt(plaintext: string, context: string): Promise<string>;
  /** Encrypts several values under one data key (one wrap call for the batch). */
  encryptMany(plaintexts: readonly string[], context: string): Promise<string[]>;
  decrypt(stored: string, context: string): Promise<string>;
  /** Keyed HMAC of the value for equality lookups; deterministic per context. Normalise the value first. */
  blindIndex(plaintext: string, context: string): string;
  /** The master key id a stored value was written with. */
  keyIdOf(stored: string): string;
  /** Whether the value was written with another master key than the current one. */
  needsReencryption(stored: string): boolean;
  /** Decrypts and encrypts again with the current master key. */
  reencrypt(stored: string, context: string): Promise<string>;
}
