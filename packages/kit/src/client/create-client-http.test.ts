// The typed client over real sockets: instances that die or reset connections.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { HttpTransport } from "../transport/http-client.ts";
import { type RpcServer, startRpcServer } from "../transport/http-server.ts";
import { Router } from "../transport/router.ts";
import { CatalogService, fakeCatalog, instance, validCreateRequest } from "../transport/test-fixtures.ts";
import { mayHaveBeenDelivered } from "../transport/transport-failure.ts";
import { createClient } from "./create-client.ts";
import type { ClientCall, ClientInterceptor } from "./types.ts";

function recorder(): { attempts: ClientCall[]; interceptor: ClientInterceptor } {
  const attempts: ClientCall[] = [];
  const interceptor: ClientInterceptor = (next) => (call) => {
    attempts.push(call);
    return next(call);
  };
  return { attempts, interceptor };
}

describe("createClient over HTTP", () => {
  const transports = new HttpTransport();
  let alive: RpcServer;
  let served = 0;
  // Reads the whole request, then drops the connection without answering.
  let resetter: Server;
  let resetterUrl = "";
  let resetterSaw = 0;

  before(async () => {
    const handlers = fakeCatalog({
      async createEvent(request) {
        served++;
        return { event: { title: request.title } };
      },
    });
    alive = await startRpcServer({ router: new Router().add(CatalogService, handlers) });
    resetter = createServer((req) => {
      req.resume();
      req.on("end", () => {
        resetterSaw++;
        req.socket.destroy();
      });
    });
    await new Promise<void>((resolve) => resetter.listen(0, "127.0.0.1", resolve));
    resetterUrl = `http://127.0.0.1:${(resetter.address() as AddressInfo).port}`;
  });
  after(async () => {
    await transports.close();
    await alive.close(1_000);
    resetter.closeAllConnections();
    await new Promise((resolve) => resetter.close(resolve));
  });

  it("retries an idempotent call on another instance after one dies", async () => {
    const dying = await startRpcServer({ router: new Router().add(CatalogService, fakeCatalog()) });
    const instances = [instance("dying", dying.url), instance("alive", alive.url)];
    const { attempts, interceptor } = recorder();
    const catalog = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor], random: () => 0 });
    assert.equal((await catalog.getEvent({ eventId: "e1" })).event?.eventId, "e1");
    await dying.close();
    attempts.length = 0;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => catalog.getEvent({ eventId: `e${i}` })));
    assert.deepEqual(results.map((r) => r.event?.eventId), Array.from({ length: 10 }, (_, i) => `e${i}`));
    assert.ok(attempts.some((a) => a.instance.id === "dying"), "the dead instance was tried");
    assert.ok(attempts.some((a) => a.attempt === 1 && a.instance.id === "alive"), "and the retry went to the live one");
  });

  it("does not retry a non-idempotent call whose connection reset after sending", async () => {
    const instances = [instance("resetter", resetterUrl), instance("alive", alive.url)];
    const { attempts, interceptor } = recorder();
    const catalog = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor], random: () => 0 });
    served = 0;
    resetterSaw = 0;
    let error: unknown;
    try {
      await catalog.createEvent(validCreateRequest());
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof FlotillaError);
    assert.equal(error.code, "KIT_ERR_UNAVAILABLE");
    assert.equal(mayHaveBeenDelivered(error), true);
    assert.equal(resetterSaw, 1, "the request reached the server");
    assert.deepEqual(attempts.map((a) => a.instance.id), ["resetter"]);
    assert.equal(served, 0, "never sent a second time");

    // The same failure on an idempotent method is retried (a fresh client: the
    // first one has ejected the resetter for a while).
    attempts.length = 0;
    const fresh = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor], random: () => 0 });
    assert.equal((await fresh.getEvent({ eventId: "e1" })).event?.eventId, "e1");
    assert.deepEqual(attempts.map((a) => a.instance.id), ["resetter", "alive"]);
  });
});
