export { envKeyProvider, masterKeyEnv } from "./env-key-provider.ts";
export { ensureMasterKeyFile, useLocalMasterKey } from "./key-file.ts";
export { createFieldCipher, type FieldCipherOptions } from "./field-cipher.ts";
export { type LocalKeysOptions, localKeyProvider } from "./local-key-provider.ts";
export { type EncryptedRow, type ReencryptOptions, type ReencryptResult, reencryptRows } from "./reencrypt.ts";
export type { FieldCipher, KeyProvider, WrappedKey } from "./types.ts";
