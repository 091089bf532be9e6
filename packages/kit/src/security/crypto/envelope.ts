// The stored form of an encrypted field: self-describing and versioned so old
// values stay readable after the format or the master key changes.
//
//   fe1.<keyId>.<wrapped data key>.<iv>.<ciphertext+tag>     (base64url parts)
import { kitErrors } from "../../errors/index.ts";

export const ENVELOPE_VERSION = "fe1";
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

export interface Envelope {
  keyId: string;
  wrapped: Buffer;
  iv: Buffer;
  /** Ciphertext followed by the 16-byte GCM tag. */
  sealed: Buffer;
}

export function formatEnvelope(e: Envelope): string {
  return [ENVELOPE_VERSION, e.keyId, e.wrapped.toString("base64url"), e.iv.toString("base64url"), e.sealed.toString("base64url")].join(".");
}

export function parseEnvelope(stored: string): Envelope {
  const parts = typeof stored === "string" ? stored.split(".") : [];
  if (parts.length !== 5) throw malformed("expected 5 dot-separated parts");
  const [version, keyId, wrapped, iv, sealed] = parts as [string, string, string, string, string];
  if (version !== ENVELOPE_VERSION) throw malformed(`unknown envelope version ${JSON.stringify(version.slice(0, 8))}`);
  if (!KEY_ID_PATTERN.test(keyId)) throw malformed("bad key id");
  if (!B64URL.test(wrapped) || !B64URL.test(iv) || !B64URL.test(sealed)) throw malformed("bad base64url part");
  const out = { keyId, wrapped: Buffer.from(wrapped, "base64url"), iv: Buffer.from(iv, "base64url"), sealed: Buffer.from(sealed, "base64url") };
  if (out.iv.length !== 12) throw malformed("the IV must be 12 bytes");
  if (out.sealed.length < 16) throw malformed("the ciphertext is shorter than its tag");
  return out;
}

function malformed(why: string) {
  return kitErrors.create("KIT_ERR_CRYPTO_MALFORMED", `not a field-encryption envelope: ${why}`);
}
