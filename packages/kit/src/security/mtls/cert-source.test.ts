import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { certSourceConformance } from "./cert-source-conformance.ts";
import { fileCertSource, issuingCertSource, writeCredentials } from "./cert-source.ts";
import { createPlatformCa, issueServiceCertificate } from "./issuer.ts";

const ca = await createPlatformCa();
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

certSourceConformance("issuingCertSource", async () => ({
  ca,
  async open(service) {
    const source = await issuingCertSource({ ca, service });
    return { source, renew: () => source.renew() };
  },
}));

certSourceConformance("fileCertSource", async () => ({
  ca,
  async open(service) {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-tls-"));
    dirs.push(dir);
    writeCredentials(dir, await issueServiceCertificate(ca, service));
    const source = fileCertSource(dir, { pollMs: 50 });
    return { source, renew: async () => writeCredentials(dir, await issueServiceCertificate(ca, service)) };
  },
}));
