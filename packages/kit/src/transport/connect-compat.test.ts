// Wire compatibility with connect-es: their client calls our server, and our
// transport calls their server, over HTTP/1.1.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, type ConnectRouter, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { catalogV1, googleRpc } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { HttpTransport } from "./http-client.ts";
import { type RpcServer, startRpcServer } from "./http-server.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, getEventRequest, instance, validCreateRequest } from "./test-fixtures.ts";

async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("a connect-es client calling our server", () => {
  let server: RpcServer;
  before(async () => {
    const handlers = fakeCatalog({
      async getEvent(request, ctx) {
        if (request.eventId === "missing") throw new FlotillaError({ code: "CATALOG_ERR_EVENT_NOT_FOUND", rpc: "not_found", message: "no event missing" });
        return { event: { eventId: request.eventId, title: ctx.metadata["x-tenant"] ?? "" } };
      },
    });
    server = await startRpcServer({ router: new Router().add(CatalogService, handlers) });
  });
  after(() => server.close(1_000));

  for (const useBinaryFormat of [true, false]) {
    it(`succeeds and gets typed errors (${useBinaryFormat ? "binary" : "JSON"})`, async () => {
      const client = createClient(CatalogService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat }));
      const ok = await client.getEvent({ eventId: "e1" }, { headers: { "x-tenant": "acme" }, timeoutMs: 5_000 });
      assert.equal(ok.event?.eventId, "e1");
      assert.equal(ok.event?.title, "acme");

      const notFound = await connectError(client.getEvent({ eventId: "missing" }));
      assert.equal(notFound.code, Code.NotFound);
      assert.equal(notFound.rawMessage, "no event missing");
      const [info] = notFound.findDetails(googleRpc.ErrorInfoSchema);
      assert.equal(info?.reason, "CATALOG_ERR_EVENT_NOT_FOUND");
      assert.equal(info?.domain, "flotilla");
      assert.equal(info?.metadata["retryable"], "false");

      const invalid = await connectError(client.createEvent({ ...validCreateRequest(), venue: "" }));
      assert.equal(invalid.code, Code.InvalidArgument);
      const [bad] = invalid.findDetails(googleRpc.BadRequestSchema);
      assert.deepEqual(bad?.fieldViolations.map((v) => v.field), ["venue"]);
    });
  }
});

describe("our transport calling a connect-es server", () => {
  let url = "";
  const server = createServer(
    connectNodeAdapter({
      routes(router: ConnectRouter) {
        router.service(CatalogService, {
          async getEvent(request) {
            if (request.eventId === "missing") throw new ConnectError("nothing here", Code.NotFound);
            return { event: { eventId: request.eventId } };
          },
          async listEvents() {
            return {};
          },
          async createEvent() {
            throw new ConnectError("try later", Code.Unavailable);
          },
        });
      },
    }),
  );
  const transport = new HttpTransport();
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await transport.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it("decodes answers and maps foreign errors by code", async () => {
    const target = instance("foreign", url);
    const ok = await transport.unary(target, CatalogService.method.getEvent, getEventRequest("e5"), { metadata: {}, deadline: Date.now() + 5_000 });
    assert.equal(ok.event?.eventId, "e5");
    await assert.rejects(transport.unary(target, CatalogService.method.getEvent, getEventRequest("missing"), { metadata: {} }), (e: unknown) => {
      return e instanceof FlotillaError && e.code === "KIT_ERR_UPSTREAM" && e.rpc === "not_found" && e.message === "nothing here";
    });
    await assert.rejects(transport.unary(target, CatalogService.method.createEvent, create(catalogV1.CreateEventRequestSchema, validCreateRequest()), { metadata: {} }), (e: unknown) => {
      return e instanceof FlotillaError && e.code === "KIT_ERR_UNAVAILABLE" && e.retryable;
    });
  });
});
