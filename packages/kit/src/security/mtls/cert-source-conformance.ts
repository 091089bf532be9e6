// What every CertSource must do, run against each implementation
// (cert-source.test.ts): credentials of the named service from the platform
// CA, and renewed ones announced without a restart.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { test } from "node:test";
import type { CertSource } from "./cert-source.ts";
import type { PemPair, ServiceCredentials } from "./issuer.ts";
import { serviceOfSubjectAltName } from "./spiffe.ts";

export interface CertSourceHarness {
  ca: PemPair;
  /** A source for `service`, and a way to make it renew. */
  open(service: string): Promise<{ source: CertSource; renew(): Promise<void> }>;
}

export function certSourceConformance(name: string, harness: () => Promise<CertSourceHarness>): void {
  test(`${name}: serves a certificate of the CA naming the service`, async () => {
    const h = await harness();
    const { source } = await h.open("catalog");
    try {
      const c = source.current();
      const cert = new X509Certificate(c.cert);
      assert.equal(source.service, "catalog");
      assert.equal(serviceOfSubjectAltName(cert.subjectAltName), "catalog");
      assert.ok(cert.checkIssued(new X509Certificate(h.ca.cert)));
      assert.equal(c.ca.trim(), h.ca.cert.trim());
      assert.ok(c.notAfter > Date.now());
    } finally {
      source.close();
    }
  });

  test(`${name}: announces a renewed certificate and serves it from then on`, async () => {
    const h = await harness();
    const { source, renew } = await h.open("catalog");
    try {
      const before = source.current().cert;
      const announced = new Promise<ServiceCredentials>((resolve) => source.onRenew(resolve));
      await renew();
      const next = await announced;
      assert.notEqual(next.cert, before);
      assert.equal(source.current().cert, next.cert);
      assert.ok(new X509Certificate(next.cert).checkPrivateKey((await import("node:crypto")).createPrivateKey(next.key)));
    } finally {
      source.close();
    }
  });
}
