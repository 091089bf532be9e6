// `flotilla up --replicas catalog=2` end to end on the local PostgreSQL and
// NATS: load is spread over both replicas, and a replica killed with SIGKILL
// under steady traffic costs no failed idempotent request; the supervisor
// restarts it and the registry drops the dead instance and adds the new one.
// Security as `flotilla up` runs it: mTLS between every process (certificates
// from the platform CA in the data folder, renewed while running) and zero
// trust (the service re-verifies the end user's token; an external issuer here).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { after, before, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { accessOf, createPlatformCa, type Instance, issueServiceCertificate, NatsRegistry, type RegistryEvent, type Watch } from "@flotilla/kit/internal";
import postgres from "postgres";
import { checkBadInput } from "../support/bad-input.ts";
import { freePort, natsUrl, postgresUrl, scratchNats, uniqueName } from "../support/engines.ts";
import { getJson, type Running, runFlotilla } from "../support/processes.ts";

// FLOTILLA_E2E_RPC_TRANSPORT=nats runs the same test with services called over NATS.
const rpcTransport = process.env.FLOTILLA_E2E_RPC_TRANSPORT ?? "http";
// `flotilla up` turns mTLS on, except with NATS-carried calls (no certificate per caller there).
const mtls = rpcTransport === "http";
const prefix = uniqueName("ft_up_") + "_";
const nats = scratchNats("ft_up");
const bucket = nats.bucket;
let up: Running;
let base: string;
let registry: NatsRegistry;
let watch: Watch;
const events: RegistryEvent[] = [];
const dataDir = mkdtempSync(join(tmpdir(), "flotilla-up-"));
let idp: Server;
let issuer: string;
let signingKey: CryptoKey;
let writer: Record<string, string>;

/** An access token as identity issues them (RFC 9068), signed by the test's issuer. */
async function token(permissions: readonly string[], key: CryptoKey = signingKey): Promise<string> {
  return new SignJWT({ client_id: "e2e", scope: "", roles: [], permissions: [...permissions] })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "e2e" })
    .setIssuer(issuer)
    .setAudience("flotilla")
    .setSubject("acc_e2e")
    .setIssuedAt()
    .setNotBefore("0s")
    .setExpirationTime("10m")
    .setJti(randomUUID())
    .sign(key);
}

before(async () => {
  const keys = await generateKeyPair("ES256");
  signingKey = keys.privateKey;
  const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: "e2e", alg: "ES256", use: "sig" };
  idp = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  writer = { authorization: `Bearer ${await token(accessOf(catalogV1.CatalogService.method.createEvent).permissions)}` };

  // The gateway's response cache would answer most GETs itself; this test is about the replicas behind it.
  const gatewayConfig = join(dataDir, "gateway.json");
  writeFileSync(gatewayConfig, JSON.stringify({ responseCache: { enabled: false } }));

  const port = await freePort();
  up = runFlotilla(["up", "--replicas", "catalog=2", "--gateway-port", String(port), "--database-url", postgresUrl, "--nats-url", natsUrl], {
    FLOTILLA_DATABASE_PREFIX: prefix,
    ...nats.env,
    FLOTILLA_TRACE_EXPORTER: "log",
    FLOTILLA_RPC_TRANSPORT: rpcTransport,
    FLOTILLA_DATA_DIR: dataDir,
    FLOTILLA_GATEWAY_CONFIG: gatewayConfig,
    FLOTILLA_CERT_TTL_SECONDS: "60",
    FLOTILLA_PUBLIC_URL: issuer,
    FLOTILLA_AUTH_JWKS_URL: `${issuer}/.well-known/jwks.json`,
    FLOTILLA_GATEWAY_JWKS_URL: `${issuer}/.well-known/jwks.json`,
  });
  base = await up.waitFor(/gateway\s+(http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  registry = await NatsRegistry.connect({ servers: natsUrl, bucket });
  watch = await registry.watch("catalog", (e) => events.push(e));
  await until(() => watch.instances().length === 2, 20_000, "two catalog instances registered");
  assert.ok(
    watch.instances().every((i) => i.address.startsWith(rpcTransport === "http" ? "https:" : `${rpcTransport}:`)),
    `instances advertise ${rpcTransport}: ${watch.instances().map((i) => i.address)}`,
  );
});

after(async () => {
  watch?.stop();
  await registry?.close();
  const code = await up?.stop("SIGTERM");
  assert.equal(code, 0, up?.output().slice(-3000));
  await nats.remove();
  const sql = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  await sql.unsafe(`DROP DATABASE IF EXISTS ${prefix}catalog WITH (FORCE)`);
  await sql.unsafe(`DROP ROLE IF EXISTS ${prefix}catalog`);
  await sql.end();
  idp?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("bad input gets clear 4xx problems through the distributed gateway", async () => {
  await checkBadInput(base, writer);
});

test("one W3C trace spans the mobile client, the gateway and the service", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const r = await fetch(`${base}/v1/catalog/events`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  await until(() => spansOf(traceId).some((s) => s.service === "catalog"), 10_000, "the catalog's span is logged");
  const spans = spansOf(traceId);
  const gatewayHttp = spans.find((s) => s.service === "gateway" && s.kind === "server");
  const gatewayClient = spans.find((s) => s.service === "gateway" && s.kind === "client");
  const server = spans.find((s) => s.service === "catalog" && s.kind === "server");
  assert.ok(gatewayHttp && gatewayClient && server, JSON.stringify(spans));
  assert.equal(gatewayHttp.parentSpanId, "00f067aa0ba902b7");
  assert.equal(gatewayClient.parentSpanId, gatewayHttp.spanId);
  assert.equal(server.parentSpanId, gatewayClient.spanId);
  assert.equal(server.name, "flotilla.catalog.v1.CatalogService/ListEvents");
});

// The certificate tests exist where certificates do: with calls over HTTP (the default).
if (mtls) {
  test("every hop is mutually authenticated: no certificate or another CA's is refused, the platform's is served", async () => {
    const instance = watch.instances()[0]!;
    const url = httpsOf(instance);
    const list = { method: "POST", path: "/flotilla.catalog.v1.CatalogService/ListEvents", body: "{}", headers: { "content-type": "application/json" } };
    const ca = credentialsOf("gateway").ca;

    assert.equal((await peerCertificate(url)).san, "URI:spiffe://flotilla/catalog");
    assert.equal((await direct(url, credentialsOf("gateway"), list)).status, 200);
    await assert.rejects(direct(url, { ca }, list), "a client without a certificate");
    const otherCa = await createPlatformCa({ name: "Not the platform" });
    const foreign = await issueServiceCertificate(otherCa, "gateway");
    await assert.rejects(direct(url, { cert: foreign.cert, key: foreign.key, ca }, list), "a certificate from another CA");
    assert.match(up.output(), /security mTLS on/);
  });

  test("probes and scrapers without a certificate get the ops paths on the plain ops port, and nothing else there", async () => {
    const instance = watch.instances()[0]!;
    const ops = instance.labels.ops;
    assert.match(ops ?? "", /^http:\/\/127\.0\.0\.1:\d+$/, "the instance advertises its ops port");
    assert.equal((await fetch(`${ops}/livez`)).status, 200);
    const ready = await fetch(`${ops}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });
    const metrics = await fetch(`${ops}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /# TYPE /);
    const call = await fetch(`${ops}/flotilla.catalog.v1.CatalogService/ListEvents`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(call.status, 404, "no call is served on the ops port");
    assert.equal(call.headers.get("content-type"), "application/problem+json");
  });
}

test("zero trust: the service itself re-verifies the end user's token and the method's permissions", async () => {
  const create = JSON.stringify({ title: "Gated", category: "EVENT_CATEGORY_OTHER", venue: "V", city: "Oslo", startsAt: new Date(Date.now() + 86_400_000).toISOString(), capacity: 5, priceMinor: "0", currency: "NOK" });
  const post = (headers: Record<string, string>) => getJson(`${base}/v1/catalog/events`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: create });
  assert.equal((await post({})).status, 401);
  assert.equal((await post({ authorization: `Bearer ${await token([])}` })).status, 403);
  const forger = await generateKeyPair("ES256");
  assert.equal((await post({ authorization: `Bearer ${await token(accessOf(catalogV1.CatalogService.method.createEvent).permissions, forger.privateKey)}` })).status, 401);
  assert.equal((await post(writer)).status, 200);

  // Straight to the service with a valid platform certificate: still no way in without the user's token.
  const url = httpsOf(watch.instances()[0]!);
  const rpc = { method: "POST", path: "/flotilla.catalog.v1.CatalogService/CreateEvent", body: create, headers: { "content-type": "application/json" } };
  const bare = await direct(url, credentialsOf("gateway"), rpc);
  assert.equal(bare.status, 401, bare.body);
  assert.equal((JSON.parse(bare.body) as { code: string }).code, "unauthenticated");
  assert.equal((await direct(url, credentialsOf("gateway"), { ...rpc, headers: { ...rpc.headers, ...writer } })).status, 200);
});

test("load spreads over both replicas; kill -9 of one loses no idempotent request", async () => {
  const created = await getJson(`${base}/v1/catalog/events`, {
    method: "POST",
    headers: { "content-type": "application/json", ...writer },
    body: JSON.stringify({ title: "Chaos night", category: "EVENT_CATEGORY_CONCERT", venue: "Hall", city: "Porto", startsAt: new Date(Date.now() + 86_400_000).toISOString(), capacity: 10, priceMinor: "100", currency: "EUR" }),
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const eventId = (created.body as { event: { eventId: string } }).event.eventId;

  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (running) {
      try {
        const r = await fetch(`${base}/v1/catalog/events/${eventId}`);
        await r.arrayBuffer();
        if (r.status === 200) ok++;
        else failures.push(`status ${r.status}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const workers = Array.from({ length: 8 }, worker);

  // Both replicas take a share of the traffic (polled: on a busy machine 1.5 s may hold only a few calls).
  const before = watch.instances();
  assert.equal(before.length, 2);
  let served: number[] = [];
  const spreadBy = Date.now() + 20_000;
  do {
    await sleep(500);
    served = await Promise.all(before.map((i) => getEventCalls(i)));
  } while (!served.every((n) => n > 20) && Date.now() < spreadBy);
  assert.ok(served.every((n) => n > 20), `both replicas serve: ${served} (${ok} ok, ${failures.length} failed)`);

  const victim = before[0]!;
  process.kill(Number(victim.labels.pid), "SIGKILL");
  const killedAt = Date.now();

  await until(() => events.some((e) => e.type === "down" && e.instance.id === victim.id), 15_000, "the registry drops the killed instance");
  await until(
    () => watch.instances().length === 2 && !watch.instances().some((i) => i.id === victim.id),
    30_000,
    "the supervisor's restarted replica registers",
  );
  const replacement = watch.instances().find((i) => i.id !== before[1]!.id)!;
  await sleep(1500);
  running = false;
  await Promise.all(workers);

  assert.deepEqual(failures, [], `failed requests after the kill at ${killedAt}`);
  assert.ok(ok > 200, `steady traffic: ${ok} requests`);
  assert.ok((await getEventCalls(replacement)) > 0, "the restarted replica takes traffic");
  assert.match(up.output(), /catalog#1 exited \(signal SIGKILL\)|catalog#2 exited \(signal SIGKILL\)/);
});

if (mtls) {
  test("certificates are renewed in place: new ones are served without a restart or a failed request", async () => {
    const instances = watch.instances();
    const before = await Promise.all(instances.map((i) => peerCertificate(httpsOf(i))));
    let running = true;
    const failures: string[] = [];
    let ok = 0;
    const worker = async () => {
      while (running) {
        const r = await fetch(`${base}/v1/catalog/events`).catch((error: unknown) => error);
        if (r instanceof Response) {
          await r.arrayBuffer();
          if (r.status === 200) ok++;
          else failures.push(`status ${r.status}`);
        } else failures.push(String(r));
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    // FLOTILLA_CERT_TTL_SECONDS=60: the supervisor renews every 40 s.
    const renewed = async () => (await Promise.all(instances.map((i) => peerCertificate(httpsOf(i))))).every((c, n) => c.serial !== before[n]!.serial);
    const end = Date.now() + 90_000;
    let done = false;
    while (!done && Date.now() < end) {
      await sleep(1000);
      done = await renewed();
    }
    running = false;
    await Promise.all(workers);
    assert.ok(done, "every instance serves a renewed certificate");
    assert.deepEqual(failures, []);
    assert.ok(ok > 0);
    assert.deepEqual(watch.instances().map((i) => i.labels.pid).sort(), instances.map((i) => i.labels.pid).sort(), "no process restarted");
  });
}

interface LoggedSpan {
  service: string;
  kind: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}

function spansOf(traceId: string): LoggedSpan[] {
  const spans: LoggedSpan[] = [];
  for (const line of up.output().split("\n")) {
    const json = line.slice(line.indexOf("| ") + 2);
    if (!json.startsWith("{") || !json.includes(traceId)) continue;
    try {
      const record = JSON.parse(json) as LoggedSpan;
      if (record.traceId === traceId && record.spanId) spans.push(record);
    } catch {
      // a log line, not a span
    }
  }
  return spans;
}

/** The credentials `flotilla up` issued to a process (renewed in place). */
function credentialsOf(identity: string): { cert: string; key: string; ca: string } {
  if (!mtls) return { cert: "", key: "", ca: "" };
  const dir = join(dataDir, "pki", identity);
  return { cert: readFileSync(join(dir, "tls.crt"), "utf8"), key: readFileSync(join(dir, "tls.key"), "utf8"), ca: readFileSync(join(dir, "ca.crt"), "utf8") };
}

/** The instance's HTTP server (RPC and ops endpoints; HTTPS with mTLS), whichever transport it advertises for calls. */
function httpsOf(instance: Instance): string {
  const url = instance.labels.http ?? instance.address;
  assert.match(url, mtls ? /^https:\/\// : /^http:\/\//);
  return url;
}

/** A request straight to a service, presenting `tls` (or no certificate); rejects when the handshake fails. */
async function direct(url: string, tls: { cert?: string; key?: string; ca: string }, init: { method?: string; path: string; body?: string; headers?: Record<string, string> }) {
  if (url.startsWith("http:")) {
    const res = await fetch(`${url}${init.path}`, { method: init.method ?? "GET", headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}) });
    return { status: res.status, body: await res.text() };
  }
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      `${url}${init.path}`,
      { method: init.method ?? "GET", headers: init.headers ?? {}, ...tls, agent: false, checkServerIdentity: () => undefined },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** The certificate a service presents: its SPIFFE ID and serial. */
function peerCertificate(url: string): Promise<{ san: string; serial: string }> {
  const { hostname, port } = new URL(url);
  const tls = credentialsOf("gateway");
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ...tls, checkServerIdentity: () => undefined }, () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve({ san: peer.subjectaltname ?? "", serial: peer.serialNumber });
    });
    socket.on("error", reject);
  });
}

async function getEventCalls(instance: Instance): Promise<number> {
  const text = (await direct(httpsOf(instance), credentialsOf("gateway"), { path: "/metrics" })).body;
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("flotilla_rpc_server_requests_total") && line.includes("CatalogService/GetEvent")) total += Number(line.split(" ").at(-1));
  }
  return total;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}\n${up.output().slice(-3000)}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
