import { join } from "node:path";
import { loadOrCreateCa } from "./ca-store.ts";
import { type CertSource, issuingCertSource } from "./cert-source.ts";

export interface LocalPki {
  /** The credentials folder of `service`, for its FLOTILLA_TLS_DIR. */
  dirOf(service: string): string;
  /** Stops renewing. */
  close(): void;
}

export interface LocalPkiOptions {
  /** The PKI folder: `ca.crt`/`ca.key`, and one folder of credentials per service. */
  dir: string;
  /** Every identity to issue for, e.g. `["catalog", "gateway"]`. */
  services: readonly string[];
  /** @default 24 h */
  ttlMs?: number;
}

/**
 * What `flotilla up` runs in the supervisor: the platform CA (created once in
 * the data folder), a short-lived certificate per service written to
 * `<dir>/<service>/{tls.crt,tls.key,ca.crt}`, and renewal at two thirds of
 * the lifetime; the processes pick the new files up without a restart.
 */
export async function startLocalPki(options: LocalPkiOptions): Promise<LocalPki> {
  const ca = await loadOrCreateCa(options.dir);
  const sources: CertSource[] = [];
  for (const service of options.services) {
    sources.push(await issuingCertSource({ ca, service, writeTo: join(options.dir, service), ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}) }));
  }
  return {
    dirOf: (service) => join(options.dir, service),
    close() {
      for (const source of sources) source.close();
    },
  };
}
