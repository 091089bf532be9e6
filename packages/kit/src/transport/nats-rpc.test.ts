// The NATS transport as a micro service: what a client that is not Flotilla
// (any NATS library, the `nats` CLI) sees.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { decodeConnectError } from "./connect-error.ts";
import { type NatsRpcServer, startNatsRpcServer } from "./nats-rpc-server.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, getEventRequest } from "./test-fixtures.ts";

const natsUrl = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `flotilla-test-${randomBytes(4).toString("hex")}.rpc`;
const shared = `${prefix}.flotilla.catalog.v1.CatalogService.GetEvent`;

describe("NATS micro service", () => {
  let nc: NatsConnection;
  let server: NatsRpcServer;
  const id = `catalog-${randomBytes(3).toString("hex")}`;

  before(async () => {
    nc = await connect({ servers: natsUrl });
    const router = new Router().add(
      CatalogService,
      fakeCatalog({
        async getEvent(request, ctx) {
          if (request.eventId === "missing") throw Object.assign(new Error("x"), { name: "Whatever" });
          return { event: { eventId: request.eventId, title: ctx.metadata["x-tenant"] ?? "" } };
        },
      }),
    );
    server = await startNatsRpcServer({ router, connection: nc, name: "catalog", id, version: "1.2.3", prefix });
  });
  after(async () => {
    await server.close(0);
    await nc.close();
  });

  it("advertises the instance's own subject prefix", () => {
    assert.equal(server.address, `nats:${prefix}.${id}`);
  });

  it("answers JSON on the shared queue subject, with headers as metadata", async () => {
    const h = headers();
    h.set("content-type", "application/json");
    h.set("X-Tenant", "acme");
    const reply = await nc.request(shared, JSON.stringify({ eventId: "e7" }), { timeout: 2_000, headers: h });
    assert.equal(reply.headers?.get("content-type"), "application/json");
    assert.deepEqual(reply.json(), { event: { eventId: "e7", title: "acme" } });
  });

  it("answers binary protobuf by default", async () => {
    const reply = await nc.request(shared, toBinary(catalogV1.GetEventRequestSchema, getEventRequest("e8")), { timeout: 2_000 });
    assert.equal(reply.headers, undefined, "a success carries no headers");
    assert.ok(reply.data.length > 0);
  });

  it("reports errors in the micro headers with the Connect error as body", async () => {
    const h = headers();
    h.set("content-type", "application/json");
    const invalid = await nc.request(`${prefix}.flotilla.catalog.v1.CatalogService.CreateEvent`, JSON.stringify({ title: "" }), { timeout: 2_000, headers: h });
    assert.equal(invalid.headers?.get("Nats-Service-Error-Code"), "400");
    assert.match(invalid.headers?.get("Nats-Service-Error") ?? "", /invalid CreateEventRequest/);
    const error = decodeConnectError(400, invalid.data);
    assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
    assert.ok(error.violations.some((v) => v.field === "title"));

    const internal = await nc.request(shared, JSON.stringify({ eventId: "missing" }), { timeout: 2_000, headers: h });
    assert.equal(internal.headers?.get("Nats-Service-Error-Code"), "500");
    assert.equal(internal.headers?.get("Nats-Service-Error"), "internal error");

    const garbage = await nc.request(shared, new Uint8Array([0xff, 0xff, 0xff]), { timeout: 2_000 });
    assert.equal(garbage.headers?.get("Nats-Service-Error-Code"), "400");
    assert.equal(decodeConnectError(400, garbage.data).code, "KIT_ERR_MALFORMED_REQUEST");

    const xml = headers();
    xml.set("content-type", "text/xml");
    const unsupported = await nc.request(shared, "<a/>", { timeout: 2_000, headers: xml });
    assert.equal(decodeConnectError(Number(unsupported.headers?.get("Nats-Service-Error-Code")), unsupported.data).code, "KIT_ERR_UNIMPLEMENTED");

    const badTimeout = headers();
    badTimeout.set("connect-timeout-ms", "soon");
    const malformed = await nc.request(shared, new Uint8Array(), { timeout: 2_000, headers: badTimeout });
    assert.equal(decodeConnectError(400, malformed.data).code, "KIT_ERR_MALFORMED_REQUEST");
  });

  it("answers $SRV.PING, INFO and STATS like any micro service", async () => {
    const ping = (await nc.request(`$SRV.PING.catalog.${id}`, "", { timeout: 2_000 })).json<Record<string, unknown>>();
    assert.deepEqual(ping, { type: "io.nats.micro.v1.ping_response", name: "catalog", id, version: "1.2.3", metadata: {} });
    const info = (await nc.request(`$SRV.INFO.catalog.${id}`, "", { timeout: 2_000 })).json<{ type: string; endpoints: { name: string; subject: string; queue_group: string }[] }>();
    assert.equal(info.type, "io.nats.micro.v1.info_response");
    const get = info.endpoints.find((e) => e.subject === shared);
    assert.equal(get?.queue_group, "q");
    assert.equal(info.endpoints.length, CatalogService.methods.length);
    const stats = (await nc.request(`$SRV.STATS.catalog.${id}`, "", { timeout: 2_000 })).json<{ type: string; endpoints: { subject: string; num_requests: number; num_errors: number }[] }>();
    assert.equal(stats.type, "io.nats.micro.v1.stats_response");
    const getStats = stats.endpoints.find((e) => e.subject === shared);
    assert.ok(getStats !== undefined && getStats.num_requests >= 2 && getStats.num_errors >= 1, JSON.stringify(getStats));
  });

  it("refuses ids and prefixes that are not subject tokens", async () => {
    await assert.rejects(startNatsRpcServer({ router: new Router(), connection: nc, name: "catalog", id: "a.*", version: "1.0.0" }), /not usable in a NATS subject/);
    await assert.rejects(startNatsRpcServer({ router: new Router(), connection: nc, name: "cat alog", id: "a", version: "1.0.0" }), /micro service name/);
  });
});
