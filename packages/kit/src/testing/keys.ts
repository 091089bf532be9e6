import { randomBytes } from "node:crypto";
import { localKeyProvider } from "../security/crypto/local-key-provider.ts";
import type { KeyProvider } from "../security/crypto/types.ts";

/** A master key of the test's own (random, key id "k1"), for services that seal columns. */
export function testKeyProvider(): KeyProvider {
  return localKeyProvider({ keys: { k1: randomBytes(32) }, currentKeyId: "k1" });
}
