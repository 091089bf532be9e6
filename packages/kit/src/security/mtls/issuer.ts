// Issues the platform CA and the short-lived service certificates (EC P-256,
// ECDSA-SHA256) for `flotilla up` and tests. On Kubernetes cert-manager or the
// mesh issues them instead; services only read files (see cert-source.ts).
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { spiffeIdOf } from "./spiffe.ts";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

/** PEM texts: what node:tls takes. */
export interface PemPair {
  cert: string;
  key: string;
}

/** What a service presents and trusts: its certificate and key, and the CA it accepts peers from. */
export interface ServiceCredentials extends PemPair {
  ca: string;
  /** Epoch ms after which the certificate is no longer valid. */
  notAfter: number;
}

export interface CaOptions {
  /** @default "Flotilla platform CA" */
  name?: string;
  /** @default 365 days */
  validityMs?: number;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return webcrypto.subtle.importKey("pkcs8", der, EC, false, ["sign"]);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ["sign", "verify"]);
}

/** A self-signed CA that may sign end-entity certificates only (pathLen 0). */
export async function createPlatformCa(options: CaOptions = {}): Promise<PemPair> {
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${options.name ?? "Flotilla platform CA"}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validityMs ?? 365 * 86_400_000)),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey) };
}

export interface IssueOptions {
  /** Certificate lifetime. @default 24 h */
  ttlMs?: number;
}

/**
 * A certificate for `service` with the URI SAN `spiffe://flotilla/<service>`,
 * usable as TLS server and client (every service is both), signed by `ca`.
 */
export async function issueServiceCertificate(ca: PemPair, service: string, options: IssueOptions = {}): Promise<ServiceCredentials> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKey(ca.key);
  const keys = await generateKeys();
  const now = Date.now();
  const notAfter = now + (options.ttlMs ?? 86_400_000);
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${service}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000), // tolerate small clock differences between processes
    notAfter: new Date(notAfter),
    signingAlgorithm: SIGNING,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeIdOf(service) }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  // x509 truncates to whole seconds; report what the certificate says.
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey), ca: ca.cert, notAfter: cert.notAfter.getTime() };
}
