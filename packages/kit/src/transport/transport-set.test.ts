import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { HttpTransport } from "./http-client.ts";
import { InprocNetwork, InprocTransport } from "./inproc.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, getEventRequest, instance } from "./test-fixtures.ts";
import { createTransports, TransportSet } from "./transport-set.ts";

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
});
