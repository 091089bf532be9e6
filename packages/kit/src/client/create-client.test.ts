// The typed client over the in-process transport: balancing, deadlines,
// retries, breaker and bulkhead. Over HTTP: create-client-http.test.ts.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import { MemoryRegistry } from "../registry/memory.ts";
import type { Instance } from "../registry/types.ts";
import { InprocNetwork, InprocTransport } from "../transport/inproc.ts";
import { Router } from "../transport/router.ts";
import { type CatalogHandlers, CatalogService, fakeCatalog, instance, validCreateRequest } from "../transport/test-fixtures.ts";
import type { CallContext } from "../transport/types.ts";
import { createClient } from "./create-client.ts";
import type { ClientCall, ClientDeps, ClientInterceptor } from "./types.ts";
import { Upstream } from "./upstream.ts";

async function rejection(promise: Promise<unknown>): Promise<FlotillaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FlotillaError, `expected a FlotillaError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** A network of catalog instances, each with its own handlers. */
function cluster(handlersById: Record<string, CatalogHandlers>) {
  const network = new InprocNetwork();
  const instances: Instance[] = [];
  for (const [id, handlers] of Object.entries(handlersById)) {
    network.bind(`inproc://${id}`, new Router().add(CatalogService, handlers));
    instances.push(instance(id, `inproc://${id}`));
  }
  return { network, instances, transports: new InprocTransport(network) };
}

/** Records every attempt: which instance, which attempt number. */
function recorder(): { attempts: ClientCall[]; interceptor: ClientInterceptor } {
  const attempts: ClientCall[] = [];
  const interceptor: ClientInterceptor = (next) => (call) => {
    attempts.push(call);
    return next(call);
  };
  return { attempts, interceptor };
}

describe("createClient", () => {
  const registry = new MemoryRegistry();
  after(() => registry.close());

  it("calls the contract's methods with typed input and output, through a registry watch", async () => {
    const { network, transports } = cluster({ "catalog-1": fakeCatalog() });
    await registry.register(instance("catalog-1", "inproc://catalog-1"));
    const watch = await registry.watch("catalog");
    try {
      const catalog = createClient(CatalogService, { instances: watch, transports });
      const { event } = await catalog.getEvent({ eventId: "e1" });
      assert.equal(event?.eventId, "e1");
      const list = await catalog.listEvents({ pageSize: 2 });
      assert.equal(list.events.length, 2);
      // @ts-expect-error the input is typed from the contract
      await rejection(catalog.getEvent({ eventIdd: "x" }));
      assert.equal(Object.keys(catalog).sort().join(","), "createEvent,getCityCalendar,getEvent,listEvents");
      network.unbind("inproc://catalog-1");
    } finally {
      watch.stop();
    }
  });

  it("fails with KIT_ERR_NO_INSTANCE when no instance is alive", async () => {
    const { transports } = cluster({});
    const catalog = createClient(CatalogService, { instances: () => [], transports });
    const error = await rejection(catalog.getEvent({ eventId: "e1" }));
    assert.equal(error.code, "KIT_ERR_NO_INSTANCE");
  });

  it("spreads calls across instances and prefers the less loaded one", async () => {
    const served = new Map<string, number>();
    const handlers = (id: string, delayMs: number) =>
      fakeCatalog({
        async getEvent(request) {
          served.set(id, (served.get(id) ?? 0) + 1);
          await sleep(delayMs);
          return { event: { eventId: request.eventId } };
        },
      });
    const three = cluster({ a: handlers("a", 5), b: handlers("b", 5), c: handlers("c", 5) });
    const spread = createClient(CatalogService, { instances: () => three.instances, transports: three.transports });
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 15; i++) await spread.getEvent({ eventId: "e" });
    }));
    for (const id of ["a", "b", "c"]) assert.ok((served.get(id) ?? 0) >= 20, `${id} served ${served.get(id)} of 120`);

    served.clear();
    // "slow" holds each call 150 ms, so its calls in flight pile up and p2c turns to "fast".
    const two = cluster({ slow: handlers("slow", 150), fast: handlers("fast", 1) });
    const client = createClient(CatalogService, { instances: () => two.instances, transports: two.transports });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      calls.push(client.getEvent({ eventId: "e" }));
      await sleep(2);
    }
    await Promise.all(calls);
    assert.ok((served.get("slow") ?? 0) <= 4, `slow served ${served.get("slow")}, fast ${served.get("fast")}`);
  });

  it("applies the default timeout, and the parent's deadline from inside a handler", async () => {
    let seen: CallContext | undefined;
    const { instances, transports } = cluster({
      a: fakeCatalog({
        async getEvent(request, ctx) {
          seen = ctx;
          if (request.eventId === "slow") await sleep(1_000);
          return {};
        },
      }),
    });
    const catalog = createClient(CatalogService, { instances: () => instances, transports, policy: { defaultTimeoutMs: 100 } });
    const before = Date.now();
    await catalog.getEvent({ eventId: "e1" });
    assert.ok(seen?.deadline !== undefined && seen.deadline >= before + 100 && seen.deadline <= Date.now() + 100);

    const parent = { deadline: Date.now() + 2_000, signal: new AbortController().signal };
    await catalog.getEvent({ eventId: "e1" }, { parent, timeoutMs: 60_000 });
    assert.equal(seen?.deadline, parent.deadline, "the earliest deadline wins");

    const started = Date.now();
    const error = await rejection(catalog.getEvent({ eventId: "slow" }, { timeoutMs: 50 }));
    assert.equal(error.code, "KIT_ERR_DEADLINE_EXCEEDED");
    assert.ok(Date.now() - started < 900, "settled at the deadline, with no retry after it (the handler takes 1 s)");
  });

  it("cancels with the parent's signal", async () => {
    const { instances, transports } = cluster({ a: fakeCatalog({ getEvent: (_r, ctx) => new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve({}))) }) });
    const catalog = createClient(CatalogService, { instances: () => instances, transports });
    const parent = new AbortController();
    const pending = catalog.getEvent({ eventId: "e1" }, { parent: { deadline: undefined, signal: parent.signal } });
    setTimeout(() => parent.abort(), 20);
    assert.equal((await rejection(pending)).code, "KIT_ERR_CANCELED");
  });

  it("retries an idempotent method on another instance, and lets interceptors add metadata", async () => {
    let metadata: Record<string, string> = {};
    const { network, instances, transports } = cluster({
      dead: fakeCatalog(),
      alive: fakeCatalog({
        async getEvent(request, ctx) {
          metadata = ctx.metadata;
          return { event: { eventId: request.eventId } };
        },
      }),
    });
    network.unbind("inproc://dead");
    const { attempts, interceptor } = recorder();
    const traced: ClientInterceptor = (next) => (call) => next({ ...call, metadata: { ...call.metadata, traceparent: `t-${call.attempt}` } });
    // random 0 makes the first pick the first instance: the dead one.
    const catalog = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor, traced], random: () => 0 });
    const { event } = await catalog.getEvent({ eventId: "e1" }, { metadata: { "x-request-id": "r1" } });
    assert.equal(event?.eventId, "e1");
    assert.deepEqual(attempts.map((a) => [a.instance.id, a.attempt]), [["dead", 0], ["alive", 1]]);
    assert.deepEqual(metadata, { "x-request-id": "r1", traceparent: "t-1" });
  });

  it("does not retry a non-idempotent method once it may have run", async () => {
    let created = 0;
    const { instances, transports } = cluster({
      flaky: fakeCatalog({
        async createEvent() {
          throw kitErrors.create("KIT_ERR_UNAVAILABLE", "database connection lost mid-write");
        },
      }),
      healthy: fakeCatalog({
        async createEvent(request) {
          created++;
          return { event: { title: request.title } };
        },
      }),
    });
    const { attempts, interceptor } = recorder();
    const catalog = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor], random: () => 0 });
    const error = await rejection(catalog.createEvent(validCreateRequest()));
    assert.equal(error.code, "KIT_ERR_UNAVAILABLE");
    assert.equal(attempts.length, 1);
    assert.equal(created, 0);
  });

  it("retries a non-idempotent method when the request surely never arrived", async () => {
    const { network, instances, transports } = cluster({ gone: fakeCatalog(), healthy: fakeCatalog() });
    network.unbind("inproc://gone");
    const { attempts, interceptor } = recorder();
    const catalog = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor], random: () => 0 });
    assert.equal((await catalog.createEvent(validCreateRequest())).event?.title, "Jazz night");
    assert.deepEqual(attempts.map((a) => a.instance.id), ["gone", "healthy"]);
    const strict = createClient(CatalogService, { instances: () => instances, transports, random: () => 0, policy: { transparentRetry: false } });
    assert.equal((await rejection(strict.createEvent(validCreateRequest()))).code, "KIT_ERR_UNAVAILABLE");
  });

  it("gives up after two retries", async () => {
    const failing = fakeCatalog({
      async getEvent() {
        throw kitErrors.create("KIT_ERR_UNAVAILABLE", "busy");
      },
    });
    const { instances, transports } = cluster({ a: failing, b: failing, c: failing, d: failing });
    const { attempts, interceptor } = recorder();
    const catalog = createClient(CatalogService, { instances: () => instances, transports, interceptors: [interceptor], policy: { breaker: false } });
    assert.equal((await rejection(catalog.getEvent({ eventId: "e1" }))).code, "KIT_ERR_UNAVAILABLE");
    assert.equal(attempts.length, 3);
    assert.equal(new Set(attempts.map((a) => a.instance.id)).size, 3, "each retry on a different instance");
  });

  it("opens the breaker after consecutive failures, rejects fast, then half-opens", async () => {
    let healthy = false;
    let served = 0;
    const { instances, transports } = cluster({
      a: fakeCatalog({
        async getEvent(request) {
          served++;
          if (request.eventId === "bad") throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "no such id");
          if (!healthy) throw kitErrors.create("KIT_ERR_UNAVAILABLE", "down");
          return { event: { eventId: request.eventId } };
        },
      }),
    });
    const deps: ClientDeps = { instances: () => instances, transports, policy: { maxRetries: 0, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 200 } } };
    const upstream = new Upstream(CatalogService, deps);
    const catalog = createClient(CatalogService, upstream);

    for (let i = 0; i < 5; i++) assert.equal((await rejection(catalog.getEvent({ eventId: "bad" }))).code, "KIT_ERR_INVALID_ARGUMENT");
    assert.equal(upstream.breakerState, "closed", "answers like invalid_argument do not count");

    for (let i = 0; i < 3; i++) assert.equal((await rejection(catalog.getEvent({ eventId: "e1" }))).code, "KIT_ERR_UNAVAILABLE");
    assert.equal(upstream.breakerState, "open");
    served = 0;
    const open = await rejection(catalog.getEvent({ eventId: "e1" }));
    assert.equal(open.code, "KIT_ERR_CIRCUIT_OPEN");
    assert.equal(open.rpc, "unavailable");
    assert.equal(served, 0, "an open breaker does not call the upstream");

    healthy = true;
    await sleep(250);
    assert.equal((await catalog.getEvent({ eventId: "e2" })).event?.eventId, "e2");
    assert.equal(upstream.breakerState, "closed");
  });

  it("rejects calls beyond the bulkhead with KIT_ERR_BULKHEAD_FULL", async () => {
    const gate = Promise.withResolvers<void>();
    const { instances, transports } = cluster({
      a: fakeCatalog({
        async getEvent(request) {
          await gate.promise;
          return { event: { eventId: request.eventId } };
        },
      }),
    });
    const catalog = createClient(CatalogService, { instances: () => instances, transports, policy: { bulkhead: { limit: 2, queue: 1 } } });
    const admitted = [catalog.getEvent({ eventId: "1" }), catalog.getEvent({ eventId: "2" }), catalog.getEvent({ eventId: "3" })];
    const full = await rejection(catalog.getEvent({ eventId: "4" }));
    assert.equal(full.code, "KIT_ERR_BULKHEAD_FULL");
    assert.equal(full.rpc, "resource_exhausted");
    gate.resolve();
    const done = await Promise.all(admitted);
    assert.deepEqual(done.map((r) => r.event?.eventId), ["1", "2", "3"]);
    assert.equal((await catalog.getEvent({ eventId: "5" })).event?.eventId, "5");
  });
});
