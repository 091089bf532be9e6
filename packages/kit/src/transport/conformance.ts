// One suite every network transport passes (HTTP, NATS): the guarantees the
// client relies on — metadata and deadline carried, typed errors with their
// details, deadlines enforced on both sides, cancellation, proof of
// non-delivery, draining.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { Router } from "./router.ts";
import { type CatalogHandlers, CatalogService, fakeCatalog, getEventRequest, instance, validCreateRequest } from "./test-fixtures.ts";
import { mayHaveBeenDelivered } from "./transport-failure.ts";
import type { CallContext, Transport } from "./types.ts";

/** A router served by the transport under test. */
export interface Served {
  /** The instance id it would register with. */
  readonly id: string;
  readonly address: string;
  readonly inFlight: number;
  drain(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
  /** Dies as a killed process would: connections dropped, nothing answered. */
  kill(): Promise<void>;
}

export interface TransportUnderTest {
  transport(): Promise<Transport>;
  serve(router: Router): Promise<Served>;
  /** An address of the transport's scheme where nothing answers. */
  deadAddress(): Promise<string>;
  /** Whether a client's cancel reaches the handler's signal at once (HTTP closes the stream; NATS has no such message, the handler stops at the deadline). */
  cancelReachesHandler: boolean;
}

const { getEvent, createEvent, listEvents } = CatalogService.method;

export async function rejection(promise: Promise<unknown>): Promise<FlotillaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FlotillaError, `expected a FlotillaError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

export function transportConformance(name: string, subject: TransportUnderTest): void {
  describe(`transport conformance: ${name}`, () => {
    let transport: Transport;
    let served: Served;
    let lastCtx: CallContext | undefined;
    let slowSignal: AbortSignal | undefined;
    let slowAborted: Promise<unknown> = Promise.resolve();
    const handlers: CatalogHandlers = fakeCatalog({
      async getEvent(request, ctx) {
        lastCtx = ctx;
        if (request.eventId === "missing") throw new FlotillaError({ code: "CATALOG_ERR_EVENT_NOT_FOUND", rpc: "not_found", message: "no event missing" });
        if (request.eventId === "boom") throw new TypeError("cannot read properties of undefined (reading 'secret')");
        if (request.eventId === "slow") {
          slowSignal = ctx.signal;
          slowAborted = new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          await new Promise((resolve) => setTimeout(resolve, 3_000).unref());
        }
        return { event: { eventId: request.eventId, title: "ok" } };
      },
    });

    before(async () => {
      transport = await subject.transport();
      served = await subject.serve(new Router().add(CatalogService, handlers));
    });
    after(async () => {
      await transport.close();
      await served.close();
    });

    const target = () => instance(served.id, served.address);

    it("round-trips binary protobuf, with metadata and the deadline", async () => {
      const sent = Date.now();
      const deadline = sent + 5_000;
      const output = await transport.unary(target(), getEvent, getEventRequest("e1"), { metadata: { "x-request-id": "r-1", traceparent: "00-abc-def-01" }, deadline });
      const elapsed = Date.now() - sent;
      assert.equal(output.$typeName, "flotilla.catalog.v1.GetEventResponse");
      assert.equal(output.event?.title, "ok");
      assert.equal(lastCtx?.metadata["x-request-id"], "r-1");
      assert.equal(lastCtx?.metadata["traceparent"], "00-abc-def-01");
      assert.equal(lastCtx?.metadata["content-type"], undefined, "protocol headers are not metadata");
      assert.equal(lastCtx?.metadata["connect-timeout-ms"], undefined);
      // The deadline travels relative: the server's is the client's, shifted by the time in transit.
      const seen = lastCtx?.deadline;
      assert.ok(seen !== undefined && seen >= deadline - 2 && seen <= deadline + elapsed + 2, `deadline ${seen} vs ${deadline} (+${elapsed} ms)`);
      const list = await transport.unary(target(), listEvents, create(catalogV1.ListEventsRequestSchema, { pageSize: 50 }), { metadata: {} });
      assert.equal(list.events.length, 50);
    });

    it("carries a handler's error code, rpc code and retryable flag to the caller", async () => {
      const error = await rejection(transport.unary(target(), getEvent, getEventRequest("missing"), { metadata: {} }));
      assert.equal(error.code, "CATALOG_ERR_EVENT_NOT_FOUND");
      assert.equal(error.rpc, "not_found");
      assert.equal(error.retryable, false);
      assert.equal(error.message, "no event missing");
    });

    it("carries validation violations", async () => {
      const input = create(catalogV1.CreateEventRequestSchema, { ...validCreateRequest(), title: "", capacity: 0 });
      const error = await rejection(transport.unary(target(), createEvent, input, { metadata: {} }));
      assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
      assert.equal(error.rpc, "invalid_argument");
      assert.deepEqual(error.violations.map((v) => v.field).sort(), ["capacity", "title"]);
      assert.ok(error.violations.every((v) => v.rule !== undefined && v.message.length > 0));
    });

    it("answers an unexpected error as internal without its message", async () => {
      const error = await rejection(transport.unary(target(), getEvent, getEventRequest("boom"), { metadata: {} }));
      assert.equal(error.code, "KIT_ERR_INTERNAL");
      assert.equal(error.message, "internal error");
    });

    it("fails at the deadline with deadline_exceeded and aborts the handler's signal", async () => {
      const started = Date.now();
      const error = await rejection(transport.unary(target(), getEvent, getEventRequest("slow"), { metadata: {}, deadline: Date.now() + 150 }));
      assert.equal(error.code, "KIT_ERR_DEADLINE_EXCEEDED");
      assert.equal(error.rpc, "deadline_exceeded");
      assert.ok(Date.now() - started < 2_500, "answered at the deadline, not when the 3 s handler finished");
      await slowAborted;
      assert.equal(slowSignal?.aborted, true);
    });

    it("settles a canceled call at once with KIT_ERR_CANCELED", async () => {
      const controller = new AbortController();
      const pending = transport.unary(target(), getEvent, getEventRequest("slow"), { metadata: {}, signal: controller.signal, deadline: Date.now() + 1_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const canceledAt = Date.now();
      controller.abort();
      assert.equal((await rejection(pending)).code, "KIT_ERR_CANCELED");
      assert.ok(Date.now() - canceledAt < 500, "settled at the cancel, not at the deadline");
      await slowAborted;
      assert.equal(slowSignal?.aborted, true);
      if (subject.cancelReachesHandler) assert.ok(Date.now() - canceledAt < 800, "the handler's signal aborted at the cancel");
    });

    it("fails unavailable, surely undelivered, when nothing answers at the address", async () => {
      const error = await rejection(transport.unary(instance("gone", await subject.deadAddress()), getEvent, getEventRequest("e1"), { metadata: {}, deadline: Date.now() + 2_000 }));
      assert.equal(error.code, "KIT_ERR_UNAVAILABLE");
      assert.equal(error.retryable, true);
      assert.equal(mayHaveBeenDelivered(error), false);
    });
  });

  describe(`transport conformance: ${name}: instance death`, () => {
    it("fails a call in flight when its instance dies: unavailable, maybe delivered, long before the deadline", async () => {
      let started: () => void = () => {};
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const served = await subject.serve(
        new Router().add(
          CatalogService,
          fakeCatalog({
            getEvent: () => {
              started();
              return new Promise(() => {});
            },
          }),
        ),
      );
      const transport = await subject.transport();
      try {
        const pending = transport.unary(instance(served.id, served.address), getEvent, getEventRequest("e1"), { metadata: {}, deadline: Date.now() + 8_000 });
        await running;
        const killedAt = Date.now();
        await served.kill();
        const error = await rejection(pending);
        assert.equal(error.code, "KIT_ERR_UNAVAILABLE");
        assert.equal(error.retryable, true);
        assert.equal(mayHaveBeenDelivered(error), true, "the handler had started: the call may have had effects");
        assert.ok(Date.now() - killedAt < 4_000, `failed ${Date.now() - killedAt} ms after the death, not at the deadline`);
      } finally {
        await transport.close();
      }
    });
  });

  describe(`transport conformance: ${name}: drain`, () => {
    it("refuses new calls (retryable, surely undelivered) and resolves once calls in flight finish", async () => {
      let release: () => void = () => {};
      let started: () => void = () => {};
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const served = await subject.serve(
        new Router().add(
          CatalogService,
          fakeCatalog({
            async getEvent(request) {
              started();
              await new Promise<void>((resolve) => {
                release = resolve;
              });
              return { event: { eventId: request.eventId } };
            },
          }),
        ),
      );
      const transport = await subject.transport();
      try {
        const target = instance(served.id, served.address);
        const inFlight = transport.unary(target, getEvent, getEventRequest("e1"), { metadata: {}, deadline: Date.now() + 5_000 });
        await running;
        assert.equal(served.inFlight, 1);
        let drained = false;
        const draining = served.drain().then(() => {
          drained = true;
        });
        const refused = await rejection(transport.unary(target, getEvent, getEventRequest("e2"), { metadata: {}, deadline: Date.now() + 2_000 }));
        assert.equal(refused.rpc, "unavailable");
        assert.equal(refused.retryable, true);
        assert.equal(mayHaveBeenDelivered(refused), false);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(drained, false, "drain waits for the call in flight");
        release();
        assert.equal((await inFlight).event?.eventId, "e1");
        await draining;
        assert.equal(drained, true);
        assert.equal(served.inFlight, 0);
      } finally {
        release();
        await transport.close();
        await served.close();
      }
    });

    it("gives up waiting after the timeout", async () => {
      const served = await subject.serve(new Router().add(CatalogService, fakeCatalog({ getEvent: () => new Promise(() => {}) })));
      const transport = await subject.transport();
      try {
        const pending = transport.unary(instance(served.id, served.address), getEvent, getEventRequest("e1"), { metadata: {}, deadline: Date.now() + 600 }).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 50));
        // The handler never finishes: drain returning at all is the timeout at work.
        await served.drain(100);
        assert.equal(served.inFlight, 1);
        await pending;
      } finally {
        await transport.close();
        await served.close();
      }
    });
  });
}
