import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { HttpTransport } from "./http-client.ts";
import { InprocNetwork, InprocTransport } from "./inproc.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, getEventRequest, instance } from "./test-fixtures.ts";
import { NatsTransport } from "./nats-rpc-client.ts";
import { createNetworkTransports, createTransports, TransportSet } from "./transport-set.ts";

describe("TransportSet", () => {
  it("picks the transport by the address scheme", async () => {
    const network = new InprocNetwork();
    network.bind("inproc://catalog-1", new Router().add(CatalogService, fakeCatalog()));
    const transports = createTransports({ inproc: network });
    try {
      assert.deepEqual([...transports.schemes].sort(), ["http:", "inproc:"]);
      assert.ok(transports.for("inproc://catalog-1") instanceof InprocTransport);
      assert.ok(transports.for("http://127.0.0.1:1") instanceof HttpTransport);
      const output = await transports.unary(instance("catalog-1", "inproc://catalog-1"), CatalogService.method.getEvent, getEventRequest("e1"), { metadata: {} });
      assert.equal(output.event?.eventId, "e1");
    } finally {
      await transports.close();
    }
  });

  it("fails with KIT_ERR_UNKNOWN_BACKEND for a scheme nobody serves", async () => {
    const transports = createTransports({ http: false, inproc: new InprocNetwork() });
    await assert.rejects(
      transports.unary(instance("x", "nats://catalog"), CatalogService.method.getEvent, getEventRequest("e1"), { metadata: {} }),
      (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_UNKNOWN_BACKEND" && e.message.includes("inproc:"),
    );
  });

  it("refuses two transports for one scheme", () => {
    const network = new InprocNetwork();
    assert.throws(() => new TransportSet([new InprocTransport(network), new InprocTransport(network)]), /two transports serve the scheme inproc:/);
  });

  it("createNetworkTransports serves http: always and nats: when given a NATS URL", async () => {
    const httpOnly = await createNetworkTransports();
    const both = await createNetworkTransports({ natsUrl: process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222" });
    try {
      assert.deepEqual([...httpOnly.schemes], ["http:"]);
      assert.deepEqual([...both.schemes].sort(), ["http:", "nats:"]);
      assert.ok(both.for("nats:flotilla.rpc.catalog-1") instanceof NatsTransport);
      assert.throws(() => httpOnly.for("nats:flotilla.rpc.catalog-1"), (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_UNKNOWN_BACKEND");
    } finally {
      await httpOnly.close();
      await both.close();
    }
  });
});
