// Where a process gets its service certificate. One small interface; the
// runtime reads files (written by `flotilla up`, cert-manager or a mesh agent)
// and picks up renewed ones without a restart.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { type FSWatcher, mkdirSync, readFileSync, renameSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kitErrors } from "../../errors/index.ts";
import { issueServiceCertificate, type PemPair, type ServiceCredentials } from "./issuer.ts";
import { serviceOfSubjectAltName } from "./spiffe.ts";

export interface CertSource {
  /** The service named by the certificate's SPIFFE ID. */
  readonly service: string;
  current(): ServiceCredentials;
  /** Called with each renewed certificate; returns an unsubscribe function. */
  onRenew(listener: (credentials: ServiceCredentials) => void): () => void;
  close(): void;
}

/** The files of a credentials folder, named as cert-manager's secrets name them. */
export const certFiles = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;

/** Checks that the certificate is a service certificate of the CA and returns its service name. */
export function inspectCredentials(credentials: Omit<ServiceCredentials, "notAfter">, where: string): { service: string; notAfter: number } {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(credentials.cert);
    ca = new X509Certificate(credentials.ca);
  } catch (cause) {
    throw kitErrors.create("KIT_ERR_CERT_INVALID", `${where}: not a PEM certificate`, { cause });
  }
  const service = serviceOfSubjectAltName(cert.subjectAltName);
  if (!service) throw kitErrors.create("KIT_ERR_CERT_INVALID", `${where}: the certificate has no spiffe://flotilla/<service> URI SAN`);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw kitErrors.create("KIT_ERR_CERT_INVALID", `${where}: the certificate is not signed by ca.crt`);
  try {
    if (!cert.checkPrivateKey(createPrivateKey(credentials.key))) throw new Error("mismatch");
  } catch (cause) {
    throw kitErrors.create("KIT_ERR_CERT_INVALID", `${where}: the key does not match the certificate`, { cause });
  }
  return { service, notAfter: Date.parse(cert.validTo) };
}

class Listeners {
  readonly #set = new Set<(credentials: ServiceCredentials) => void>();
  add(listener: (credentials: ServiceCredentials) => void): () => void {
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }
  emit(credentials: ServiceCredentials): void {
    for (const listener of this.#set) listener(credentials);
  }
}

export interface FileCertSourceOptions {
  /** Also re-read the files this often, in case a change notification is missed. @default 30 s */
  pollMs?: number;
}

/**
 * Credentials from a folder holding tls.crt, tls.key and ca.crt. Reloads when
 * the files change (written by the issuer with an atomic rename); a half-written
 * or mismatched set is ignored until it is complete.
 */
export function fileCertSource(dir: string, options: FileCertSourceOptions = {}): CertSource {
  const read = (): ServiceCredentials => {
    let pems: Omit<ServiceCredentials, "notAfter">;
    try {
      pems = {
        cert: readFileSync(join(dir, certFiles.cert), "utf8"),
        key: readFileSync(join(dir, certFiles.key), "utf8"),
        ca: readFileSync(join(dir, certFiles.ca), "utf8"),
      };
    } catch (cause) {
      throw kitErrors.create("KIT_ERR_CERT_INVALID", `cannot read ${certFiles.cert}, ${certFiles.key} and ${certFiles.ca} in the TLS folder`, { cause });
    }
    return { ...pems, notAfter: inspectCredentials(pems, "the TLS folder").notAfter };
  };
  let current = read();
  const service = inspectCredentials(current, "the TLS folder").service;
  const listeners = new Listeners();
  const reload = () => {
    let next: ServiceCredentials;
    try {
      next = read();
    } catch {
      return; // mid-rotation; the next event or poll picks the complete set
    }
    if (next.cert === current.cert && next.key === current.key && next.ca === current.ca) return;
    if (inspectCredentials(next, "the TLS folder").service !== service) return;
    current = next;
    listeners.emit(next);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => reload());
    watcher.on("error", () => {});
  } catch {
    watcher = undefined; // polling still works
  }
  const timer = setInterval(reload, options.pollMs ?? 30_000);
  timer.unref();
  return {
    service,
    current: () => current,
    onRenew: (listener) => listeners.add(listener),
    close() {
      clearInterval(timer);
      watcher?.close();
    },
  };
}

/** Writes credentials into a folder for fileCertSource: each file replaced atomically, the key owner-only. */
export function writeCredentials(dir: string, credentials: ServiceCredentials): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key first, certificate last: a reader sees the new pair complete once tls.crt changes.
  for (const [name, text, mode] of [
    [certFiles.ca, credentials.ca, 0o644],
    [certFiles.key, credentials.key, 0o600],
    [certFiles.cert, credentials.cert, 0o644],
  ] as const) {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, join(dir, name));
  }
}

export interface IssuingCertSourceOptions {
  ca: PemPair;
  service: string;
  /** @default 24 h */
  ttlMs?: number;
  /** Renew when this fraction of the lifetime has passed. @default 2/3 */
  renewAt?: number;
  /** Also write each certificate into this folder (for child processes' fileCertSource). */
  writeTo?: string;
}

/**
 * Issues its own certificates from a CA held in this process and renews them
 * before they expire: what `flotilla up` runs for each service, and tests use.
 */
export async function issuingCertSource(options: IssuingCertSourceOptions): Promise<CertSource & { renew(): Promise<void> }> {
  const ttlMs = options.ttlMs ?? 86_400_000;
  const issue = async () => {
    const credentials = await issueServiceCertificate(options.ca, options.service, { ttlMs });
    if (options.writeTo) writeCredentials(options.writeTo, credentials);
    return credentials;
  };
  let current = await issue();
  const listeners = new Listeners();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = () => {
    // Renew well before expiry; a failed renewal retries soon while the old certificate is still valid.
    const delay = Math.max(1000, ttlMs * (options.renewAt ?? 2 / 3));
    timer = setTimeout(() => void renew().catch(() => schedule()), delay);
    timer.unref();
  };
  const renew = async () => {
    if (timer) clearTimeout(timer);
    current = await issue();
    listeners.emit(current);
    if (!closed) schedule();
  };
  schedule();
  return {
    service: options.service,
    current: () => current,
    onRenew: (listener) => listeners.add(listener),
    renew,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
