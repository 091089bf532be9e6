import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kitErrors } from "../../errors/index.ts";
import { createPlatformCa, type PemPair } from "./issuer.ts";

/**
 * The local platform CA of `flotilla up`: created on first start in
 * `<dir>/ca.crt` and `<dir>/ca.key` (owner-only) and reused afterwards, so
 * certificates issued before a restart stay valid. One that has expired (or
 * will within a day) is replaced.
 */
export async function loadOrCreateCa(dir: string): Promise<PemPair> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  let existing: PemPair | undefined;
  try {
    existing = { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (existing) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(existing.cert);
    } catch (cause) {
      throw kitErrors.create("KIT_ERR_CERT_INVALID", `${certPath} is not a PEM certificate`, { cause });
    }
    if (!cert.ca) throw kitErrors.create("KIT_ERR_CERT_INVALID", `${certPath} is not a CA certificate`);
    if (Date.parse(cert.validTo) - Date.now() > 86_400_000) return existing;
  }
  const ca = await createPlatformCa();
  writeFileSync(keyPath, ca.key, { mode: 0o600 });
  writeFileSync(certPath, ca.cert, { mode: 0o644 });
  return ca;
}
