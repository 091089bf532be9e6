// `flotilla up --replicas catalog=2` end to end on the local PostgreSQL and
// NATS: load is spread over both replicas, and a replica killed with SIGKILL
// under steady traffic costs no failed idempotent request; the supervisor
// restarts it and the registry drops the dead instance and adds the new one.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { NatsRegistry, type RegistryEvent, type Watch } from "@flotilla/kit/internal";
import postgres from "postgres";
import { checkBadInput } from "../support/bad-input.ts";
import { freePort, natsUrl, postgresUrl, uniqueName } from "../support/engines.ts";
import { getJson, type Running, runFlotilla } from "../support/processes.ts";

const prefix = uniqueName("ft_up_") + "_";
const bucket = uniqueName("ft_up_registry_");
let up: Running;
let base: string;
let registry: NatsRegistry;
let watch: Watch;
const events: RegistryEvent[] = [];

before(async () => {
  const port = await freePort();
  up = runFlotilla(["up", "--replicas", "catalog=2", "--gateway-port", String(port), "--database-url", postgresUrl, "--nats-url", natsUrl], {
    FLOTILLA_DATABASE_PREFIX: prefix,
    FLOTILLA_REGISTRY_BUCKET: bucket,
    FLOTILLA_TRACE_EXPORTER: "log",
  });
  base = await up.waitFor(/gateway\s+(http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  registry = await NatsRegistry.connect({ servers: natsUrl, bucket });
  watch = await registry.watch("catalog", (e) => events.push(e));
  await until(() => watch.instances().length === 2, 20_000, "two catalog instances registered");
});

after(async () => {
  watch?.stop();
  await registry?.close();
  const code = await up?.stop("SIGTERM");
  assert.equal(code, 0, up?.output().slice(-3000));
  const nc = await connect({ servers: natsUrl });
  await new Kvm(nc).open(bucket).then((kv) => kv.destroy()).catch(() => {});
  await nc.close();
  const sql = postgres(postgresUrl, { max: 1, onnotice: () => {} });
  await sql.unsafe(`DROP DATABASE IF EXISTS ${prefix}catalog WITH (FORCE)`);
  await sql.unsafe(`DROP ROLE IF EXISTS ${prefix}catalog`);
  await sql.end();
});

test("bad input gets clear 4xx problems through the distributed gateway", async () => {
  await checkBadInput(base);
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

test("load spreads over both replicas; kill -9 of one loses no idempotent request", async () => {
  const created = await getJson(`${base}/v1/catalog/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
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

  await sleep(1500);
  const before = watch.instances();
  assert.equal(before.length, 2);
  const served = await Promise.all(before.map((i) => getEventCalls(i.address)));
  assert.ok(served.every((n) => n > 20), `both replicas serve: ${served}`);

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
  assert.ok((await getEventCalls(replacement.address)) > 0, "the restarted replica takes traffic");
  assert.match(up.output(), /catalog#1 exited \(signal SIGKILL\)|catalog#2 exited \(signal SIGKILL\)/);
});

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

async function getEventCalls(address: string): Promise<number> {
  const text = await (await fetch(`${address}/metrics`)).text();
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
