import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, type TestContext, test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import type { Instance, PausableRegistration, Registration, Registry, RegistryEvent } from "./types.ts";

/** One backend world for one test: `other()` opens another handle on the same shared state. */
export interface ConformanceWorld {
  registry: Registry;
  other: () => Promise<Registry>;
  /** The TTL the backend was configured with; expiry is expected within about that. */
  ttlMs: number;
}

type Match = (event: RegistryEvent) => boolean;

/** Records a watch's events; `waitFor` resolves on the first match at or after index `from`. */
class EventLog {
  readonly events: RegistryEvent[] = [];
  readonly #waiters = new Set<{ match: Match; resolve: (event: RegistryEvent) => void }>();

  readonly push = (event: RegistryEvent): void => {
    this.events.push(event);
    for (const waiter of this.#waiters) if (waiter.match(event)) waiter.resolve(event);
  };

  waitFor(match: Match, from = 0, timeoutMs = 3000): Promise<RegistryEvent> {
    const seen = this.events.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (event: RegistryEvent) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(event);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no matching event within ${timeoutMs} ms; saw ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

const uniqueService = (): string => `svc-${randomUUID().slice(0, 8)}`;

function makeInstance(service: string): Instance {
  const id = `${service}-${randomUUID().slice(0, 6)}`;
  return { id, service, version: "1.4.2-rc.1", address: `http://127.0.0.1:7101/${id}`, labels: { zone: "eu-west-1a", track: "canary" }, startedAt: 1_700_000_000_123 };
}

const isUp = (instance: Instance): Match => (e) => e.type === "up" && e.instance.id === instance.id;
const isDown = (instance: Instance): Match => (e) => e.type === "down" && e.instance.id === instance.id;

function pausable(registration: Registration): PausableRegistration {
  assert.ok("pauseHeartbeats" in registration && "resumeHeartbeats" in registration, "registrations must support pauseHeartbeats/resumeHeartbeats");
  return registration as PausableRegistration;
}

const byId = (a: Instance, b: Instance): number => a.id.localeCompare(b.id);

/**
 * The one behaviour suite every Registry implementation must pass.
 *
 *   registryConformance("memory", async () => {
 *     const registry = new MemoryRegistry({ ttlMs: 300 });
 *     return { registry, other: async () => new MemoryRegistry({ world: registry.world }), ttlMs: 300 };
 *   });
 */
export function registryConformance(name: string, make: () => Promise<ConformanceWorld>): void {
  // Every handle a test opens is closed after it, so the process can exit.
  async function open(t: TestContext) {
    const world = await make();
    const handles: Registry[] = [world.registry];
    t.after(() => Promise.all(handles.map((h) => h.close())));
    const other = async (): Promise<Registry> => {
      const handle = await world.other();
      handles.push(handle);
      return handle;
    };
    return { registry: world.registry, other, ttlMs: world.ttlMs };
  }

  describe(`registry conformance: ${name}`, () => {
    test("a watch lists a registered instance with its version and labels intact", async (t) => {
      const { registry } = await open(t);
      const instance = makeInstance(uniqueService());
      const registration = await registry.register(instance);
      assert.deepEqual(registration.instance, instance);
      const watch = await registry.watch(instance.service);
      assert.deepEqual(watch.instances(), [instance]);
    });

    test("a watch resolves with the current state loaded, without replaying it as events", async (t) => {
      const { registry, other } = await open(t);
      const service = uniqueService();
      const [a, b] = [makeInstance(service), makeInstance(service)];
      const peer = await other();
      await peer.register(a);
      await peer.register(b);
      const log = new EventLog();
      const watch = await registry.watch(service, log.push);
      assert.deepEqual([...watch.instances()].sort(byId), [a, b].sort(byId));
      assert.deepEqual(log.events, []);
    });

    test("a watch sees an instance that another handle registers", async (t) => {
      const { registry, other } = await open(t);
      const instance = makeInstance(uniqueService());
      const log = new EventLog();
      const watch = await registry.watch(instance.service, log.push);
      assert.deepEqual(watch.instances(), []);
      await (await other()).register(instance);
      const event = await log.waitFor(isUp(instance));
      assert.deepEqual(event, { type: "up", instance });
      assert.deepEqual(watch.instances(), [instance]);
    });

    test("deregister emits down 'deregistered' and drops only that instance", async (t) => {
      const { registry, other } = await open(t);
      const service = uniqueService();
      const [a, b] = [makeInstance(service), makeInstance(service)];
      const peer = await other();
      const registration = await peer.register(a);
      await peer.register(b);
      const log = new EventLog();
      const watch = await registry.watch(service, log.push);
      await registration.deregister();
      const event = await log.waitFor(isDown(a));
      assert.deepEqual(event, { type: "down", instance: a, reason: "deregistered" });
      assert.deepEqual(watch.instances(), [b]);
    });

    test("watch('*') sees every service", async (t) => {
      const { registry, other } = await open(t);
      const [a, b] = [makeInstance(uniqueService()), makeInstance(uniqueService())];
      const log = new EventLog();
      const watch = await registry.watch("*", log.push);
      const peer = await other();
      await peer.register(a);
      await peer.register(b);
      await log.waitFor(isUp(a));
      await log.waitFor(isUp(b));
      const mine = watch.instances().filter((i) => i.id === a.id || i.id === b.id);
      assert.deepEqual([...mine].sort(byId), [a, b].sort(byId));
    });

    test("a per-service watch does not see other services", async (t) => {
      const { registry, other } = await open(t);
      const [mine, theirs] = [makeInstance(uniqueService()), makeInstance(uniqueService())];
      const log = new EventLog();
      const watch = await registry.watch(mine.service, log.push);
      const peer = await other();
      await peer.register(theirs);
      await peer.register(mine);
      await log.waitFor(isUp(mine));
      assert.deepEqual(log.events, [{ type: "up", instance: mine }]);
      assert.deepEqual(watch.instances(), [mine]);
    });

    test("an instance whose heartbeats stop expires, and comes back when they resume", async (t) => {
      const { registry, other, ttlMs } = await open(t);
      const instance = makeInstance(uniqueService());
      const registration = pausable(await (await other()).register(instance));
      const log = new EventLog();
      const watch = await registry.watch(instance.service, log.push);
      assert.deepEqual(watch.instances(), [instance]);

      const pausedAt = Date.now();
      registration.pauseHeartbeats();
      const down = await log.waitFor(isDown(instance), 0, ttlMs * 3 + 1000);
      const elapsed = Date.now() - pausedAt;
      assert.deepEqual(down, { type: "down", instance, reason: "expired" });
      assert.ok(elapsed <= ttlMs * 2 + 250, `expired after ${elapsed} ms, TTL ${ttlMs} ms`);
      assert.deepEqual(watch.instances(), []);

      const mark = log.events.length;
      registration.resumeHeartbeats();
      const up = await log.waitFor(isUp(instance), mark);
      assert.deepEqual(up, { type: "up", instance });
      assert.deepEqual(watch.instances(), [instance]);
    });

    test("close() deregisters the handle's instances", async (t) => {
      const { registry, other } = await open(t);
      const instance = makeInstance(uniqueService());
      const peer = await other();
      await peer.register(instance);
      const log = new EventLog();
      const watch = await registry.watch(instance.service, log.push);
      await peer.close();
      assert.deepEqual(await log.waitFor(isDown(instance)), { type: "down", instance, reason: "deregistered" });
      assert.deepEqual(watch.instances(), []);
      await assert.rejects(peer.register(makeInstance(instance.service)), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_REGISTRY_UNAVAILABLE");
    });

    test("a stopped watch gets no more events", async (t) => {
      const { registry, other } = await open(t);
      const instance = makeInstance(uniqueService());
      const [stopped, live] = [new EventLog(), new EventLog()];
      (await registry.watch(instance.service, stopped.push)).stop();
      await registry.watch(instance.service, live.push);
      await (await other()).register(instance);
      await live.waitFor(isUp(instance));
      assert.deepEqual(stopped.events, []);
    });

    test("names that would break a registry key are refused", async (t) => {
      const { registry } = await open(t);
      const invalid = (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT";
      await assert.rejects(registry.register({ ...makeInstance("ok"), service: "cata.log" }), invalid);
      await assert.rejects(registry.register({ ...makeInstance("ok"), id: "a*" }), invalid);
      await assert.rejects(registry.watch("cata.>"), invalid);
    });
  });
}
