import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { InprocNetwork, InprocTransport } from "./inproc.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, getEventRequest, instance } from "./test-fixtures.ts";
import { mayHaveBeenDelivered, TransportFailure } from "./transport-failure.ts";
import type { CallContext } from "./types.ts";

const getEvent = CatalogService.method.getEvent;

async function rejection(promise: Promise<unknown>): Promise<FlotillaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FlotillaError);
    return error;
  }
  assert.fail("expected the call to fail");
}

function setup(handlers = fakeCatalog()) {
  const network = new InprocNetwork();
  network.bind("inproc://catalog-1", new Router().add(CatalogService, handlers));
  return { network, transport: new InprocTransport(network), target: instance("catalog-1", "inproc://catalog-1") };
}

describe("InprocTransport", () => {
  it("hands the decoded message and metadata to the handler, without serialising", async () => {
    let seen: { input: unknown; ctx: CallContext } | undefined;
    const { transport, target } = setup(
      fakeCatalog({
        async getEvent(request, ctx) {
          seen = { input: request, ctx };
          return { event: { eventId: request.eventId } };
        },
      }),
    );
    const input = getEventRequest("e1");
    const deadline = Date.now() + 5_000;
    const output = await transport.unary(target, getEvent, input, { metadata: { "x-request-id": "r1" }, deadline });
    assert.equal(output.event?.eventId, "e1");
    assert.equal(seen?.input, input, "the same object, not a copy");
    assert.deepEqual(seen?.ctx.metadata, { "x-request-id": "r1" });
    assert.equal(seen?.ctx.deadline, deadline);
    assert.equal(seen?.ctx.method.name, "GetEvent");
  });

  it("still validates the input", async () => {
    const { transport, target } = setup();
    const error = await rejection(transport.unary(target, getEvent, getEventRequest(""), { metadata: {} }));
    assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
    assert.deepEqual(error.violations.map((v) => v.field), ["event_id"]);
  });

  it("fails with deadline_exceeded at the deadline and aborts the handler's signal", async () => {
    let signal: AbortSignal | undefined;
    const { transport, target } = setup(
      fakeCatalog({
        async getEvent(_request, ctx) {
          signal = ctx.signal;
          await new Promise((resolve) => setTimeout(resolve, 2_000).unref());
          return {};
        },
      }),
    );
    const started = Date.now();
    const error = await rejection(transport.unary(target, getEvent, getEventRequest("e1"), { metadata: {}, deadline: Date.now() + 80 }));
    assert.equal(error.code, "KIT_ERR_DEADLINE_EXCEEDED");
    assert.ok(Date.now() - started < 1_500, "settled at the deadline, not when the 2 s handler finished");
    assert.equal(signal?.aborted, true);
  });

  it("fails with canceled when the caller aborts", async () => {
    const { transport, target } = setup(
      fakeCatalog({
        async getEvent(_request, ctx) {
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          return {};
        },
      }),
    );
    const controller = new AbortController();
    const pending = transport.unary(target, getEvent, getEventRequest("e1"), { metadata: {}, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    assert.equal((await rejection(pending)).code, "KIT_ERR_CANCELED");
  });

  it("answers unavailable, retryable and surely undelivered, when nothing is bound", async () => {
    const { network, transport, target } = setup();
    network.unbind("inproc://catalog-1");
    const error = await rejection(transport.unary(target, getEvent, getEventRequest("e1"), { metadata: {} }));
    assert.equal(error.code, "KIT_ERR_UNAVAILABLE");
    assert.equal(error.retryable, true);
    assert.ok(error.cause instanceof TransportFailure);
    assert.equal(mayHaveBeenDelivered(error), false);
  });

  it("refuses to bind an address twice or a non-inproc address", () => {
    const { network } = setup();
    assert.throws(() => network.bind("inproc://catalog-1", new Router()), /already bound/);
    assert.throws(() => network.bind("http://x", new Router()), /inproc:\/\//);
  });
});
