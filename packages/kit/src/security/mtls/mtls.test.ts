// Service identity over real HTTPS servers: the server requires a client
// certificate of the platform CA, reads the caller's SPIFFE ID into
// ctx.caller for the caller policy; the client checks the server's SPIFFE ID.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type PeerCertificate } from "node:tls";
import { after, before, describe, test } from "node:test";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Agent } from "undici";
import { FlotillaError } from "../../errors/index.ts";
import type { Instance } from "../../registry/types.ts";
import { HttpTransport } from "../../transport/http-client.ts";
import { createRpcHandler } from "../../transport/http-server.ts";
import { Router } from "../../transport/router.ts";
import type { CallContext, Transport } from "../../transport/types.ts";
import { callerPolicy } from "../policy/caller-policy.ts";
import { ProbeService, probeHandlers } from "../policy/test-contract.ts";
import { type CertSource, fileCertSource, issuingCertSource, writeCredentials } from "./cert-source.ts";
import { createPlatformCa, issueServiceCertificate, type PemPair, type ServiceCredentials } from "./issuer.ts";
import { MtlsTransport } from "./mtls-transport.ts";
import { serviceOfSubjectAltName, spiffeIdOf } from "./spiffe.ts";
import { callerOfRequest, createMtlsServer } from "./tls-server.ts";

let ca: PemPair;
let otherCa: PemPair;
let serverSource: Awaited<ReturnType<typeof issuingCertSource>>;
let server: Server;
let target: Instance;
const seen: Array<string | undefined> = [];
const transports: Transport[] = [];

function fixedSource(credentials: ServiceCredentials, service: string): CertSource {
  return { service, current: () => credentials, onRenew: () => () => {}, close() {} };
}

async function listen(source: CertSource): Promise<{ server: Server; port: number }> {
  const handlers = probeHandlers() as Record<string, (input: unknown, ctx: CallContext) => Promise<object>>;
  for (const name of Object.keys(handlers)) {
    handlers[name] = async (_input, ctx) => {
      seen.push(ctx.caller);
      return {};
    };
  }
  const router = new Router({ interceptors: [callerPolicy()] }).add(ProbeService, handlers as never);
  const rpc = createRpcHandler(router, { callerOf: callerOfRequest });
  const s = createMtlsServer(source, (req, res) => rpc.handle(req, res));
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  return { server: s, port: (s.address() as AddressInfo).port };
}

function call(transport: Transport, method: string, to: Instance = target) {
  transports.push(transport);
  return transport.unary(to, ProbeService.method[method] as never, create(EmptySchema) as MessageShape<DescMessage>, { metadata: {} });
}

async function refused(promise: Promise<unknown>, code: string) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof FlotillaError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

before(async () => {
  ca = await createPlatformCa();
  otherCa = await createPlatformCa({ name: "Somebody else's CA" });
  serverSource = await issuingCertSource({ ca, service: "probe", ttlMs: 3_600_000 });
  const started = await listen(serverSource);
  server = started.server;
  target = { id: "probe-1", service: "probe", version: "1", address: `https://127.0.0.1:${started.port}`, labels: {}, startedAt: 0 };
});

after(async () => {
  await Promise.all(transports.map((t) => t.close().catch(() => {})));
  serverSource.close();
  server.closeAllConnections();
  server.close();
});

describe("mTLS between services", () => {
  test("the certificates carry the SPIFFE ID and are signed by the CA", async () => {
    const creds = serverSource.current();
    const { X509Certificate } = await import("node:crypto");
    const cert = new X509Certificate(creds.cert);
    assert.equal(cert.subjectAltName, `URI:${spiffeIdOf("probe")}`);
    assert.ok(cert.checkIssued(new X509Certificate(ca.cert)));
    assert.ok(!cert.ca);
    assert.equal(serviceOfSubjectAltName(cert.subjectAltName), "probe");
    assert.ok(creds.notAfter - Date.now() <= 3_600_000 && creds.notAfter - Date.now() > 3_500_000);
  });

  test("the allowed service is served, and the handler sees who called", async () => {
    seen.length = 0;
    await call(new MtlsTransport(await issuingCertSource({ ca, service: "billing" })), "settle");
    assert.deepEqual(seen, ["billing"]);
  });

  test("a valid certificate of a service the policy does not list is refused", async () => {
    seen.length = 0;
    const gateway = new MtlsTransport(await issuingCertSource({ ca, service: "gateway" }));
    await refused(call(gateway, "settle"), "KIT_ERR_CALLER_DENIED");
    await call(gateway, "open"); // not internal: any service of the platform
    assert.deepEqual(seen, ["gateway"]);
  });

  test("a client without a certificate is refused at the handshake", async () => {
    seen.length = 0;
    const noCert = new HttpTransport({ dispatcher: new Agent({ connect: { ca: ca.cert, checkServerIdentity: () => undefined } }) });
    await refused(call(noCert, "open"), "KIT_ERR_UNAVAILABLE");
    assert.deepEqual(seen, []);
  });

  test("a client with a certificate from another CA is refused at the handshake", async () => {
    seen.length = 0;
    const foreign = await issueServiceCertificate(otherCa, "billing");
    const transport = new MtlsTransport(fixedSource({ ...foreign, ca: ca.cert }, "billing"));
    await refused(call(transport, "settle"), "KIT_ERR_UNAVAILABLE");
    assert.deepEqual(seen, []);
  });

  test("the client refuses a server whose SPIFFE ID is not the service it meant to call", async () => {
    seen.length = 0;
    const billing = new MtlsTransport(await issuingCertSource({ ca, service: "billing" }));
    await refused(call(billing, "settle", { ...target, service: "ledger" }), "KIT_ERR_UNAVAILABLE");
    const impostorSource = await issuingCertSource({ ca: otherCa, service: "probe" });
    const impostor = await listen(impostorSource);
    try {
      await refused(call(billing, "settle", { ...target, address: `https://127.0.0.1:${impostor.port}` }), "KIT_ERR_UNAVAILABLE");
    } finally {
      impostorSource.close();
      impostor.server.closeAllConnections();
      impostor.server.close();
    }
    assert.deepEqual(seen, []);
  });

  test("renewal swaps both certificates without dropping calls", async () => {
    const clientSource = await issuingCertSource({ ca, service: "billing" });
    const billing = new MtlsTransport(clientSource);
    const peerSerial = () =>
      new Promise<string>((resolve, reject) => {
        const c = clientSource.current();
        const socket = connect({ host: "127.0.0.1", port: Number(new URL(target.address).port), cert: c.cert, key: c.key, ca: c.ca, checkServerIdentity: () => undefined }, () => {
          const serial = (socket.getPeerCertificate() as PeerCertificate).serialNumber;
          socket.end();
          resolve(serial);
        });
        socket.on("error", reject);
      });
    const serverBefore = await peerSerial();
    const clientBefore = clientSource.current().cert;

    let running = true;
    let ok = 0;
    const failures: unknown[] = [];
    const worker = async () => {
      while (running) {
        try {
          await call(billing, "settle");
          ok++;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    while (ok < 50) await new Promise((r) => setTimeout(r, 5));
    await serverSource.renew();
    await clientSource.renew();
    const atRenewal = ok;
    while (ok < atRenewal + 50) await new Promise((r) => setTimeout(r, 5));
    running = false;
    await Promise.all(workers);

    assert.deepEqual(failures, []);
    assert.notEqual(await peerSerial(), serverBefore, "new handshakes get the renewed server certificate");
    assert.notEqual(clientSource.current().cert, clientBefore);
    clientSource.close();
  });
});

describe("file certificate source", () => {
  test("a folder whose key does not match, or whose certificate is not from ca.crt, is a typed error", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "flotilla-tls-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const a = await issueServiceCertificate(ca, "catalog");
    const b = await issueServiceCertificate(ca, "catalog");
    writeCredentials(dir, { ...a, key: b.key });
    assert.throws(() => fileCertSource(dir), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CERT_INVALID" && /key does not match/.test(e.message));
    writeCredentials(dir, { ...a, ca: otherCa.cert });
    assert.throws(() => fileCertSource(dir), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CERT_INVALID" && /not signed/.test(e.message));
    rmSync(join(dir, "tls.key"));
    assert.throws(() => fileCertSource(dir), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CERT_INVALID");
  });
});

describe("local platform CA", () => {
  test("is created once in the folder, owner-only key, and reused", async (t) => {
    const { loadOrCreateCa } = await import("./ca-store.ts");
    const { statSync } = await import("node:fs");
    const dir = mkdtempSync(join(tmpdir(), "flotilla-ca-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const first = await loadOrCreateCa(join(dir, "pki"));
    assert.deepEqual(await loadOrCreateCa(join(dir, "pki")), first);
    assert.equal(statSync(join(dir, "pki", "ca.key")).mode & 0o077, 0);
    const issued = await issueServiceCertificate(first, "catalog");
    assert.equal(serviceOfSubjectAltName(new (await import("node:crypto")).X509Certificate(issued.cert).subjectAltName), "catalog");
  });
});
