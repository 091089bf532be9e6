// Service identity as a SPIFFE ID in the certificate's URI SAN:
// `spiffe://flotilla/<service>` (the gateway is `spiffe://flotilla/gateway`).
// https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md
import type { PeerCertificate } from "node:tls";

export const TRUST_DOMAIN = "flotilla";
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const PREFIX = `spiffe://${TRUST_DOMAIN}/`;

export function isServiceName(name: string): boolean {
  return SERVICE_NAME.test(name);
}

export function spiffeIdOf(service: string): string {
  if (!isServiceName(service)) throw new TypeError(`"${service}" is not a service name (${SERVICE_NAME})`);
  return PREFIX + service;
}

/**
 * The service named by a certificate's subjectAltName (`URI:spiffe://flotilla/catalog`,
 * as node:tls writes it), or undefined unless it holds exactly one SPIFFE ID of
 * our trust domain — an X509-SVID has one URI SAN.
 */
export function serviceOfSubjectAltName(san: string | undefined): string | undefined {
  if (!san) return undefined;
  const uris = san
    .split(", ")
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice(4));
  if (uris.length !== 1) return undefined;
  const uri = uris[0] as string;
  if (!uri.startsWith(PREFIX)) return undefined;
  const service = uri.slice(PREFIX.length);
  return isServiceName(service) ? service : undefined;
}

export function serviceOfPeerCertificate(cert: PeerCertificate | undefined): string | undefined {
  return cert ? serviceOfSubjectAltName(cert.subjectaltname) : undefined;
}
