import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { describe, type TestContext, test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { eventId } from "./event-id.ts";
import type { CloudEvent, Delivery, DeliveryHandler, EventBus, SubscribeOptions, Subscription } from "./types.ts";

/** One backend for one test: `other()` opens another handle on the same broker (another process), or returns `bus`. */
export interface BusWorld {
  bus: EventBus;
  other: () => Promise<EventBus>;
}

const rand = (): string => randomUUID().replaceAll("-", "").slice(0, 10);
const uniqueType = (): string => `conformance.t${rand()}.v1`;
const uniqueConsumer = (): string => `conformance.c-${rand()}`;

function makeEvent(type: string, extra: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: "1.0",
    id: eventId(),
    source: "/flotilla/conformance",
    type,
    time: new Date().toISOString(),
    datacontenttype: "application/protobuf",
    dataschema: "flotilla.conformance.v1.Probe",
    data: randomBytes(16),
    ...extra,
  };
}

const makeEvents = (type: string, count: number): CloudEvent[] => Array.from({ length: count }, () => makeEvent(type));

/** Records deliveries; `waitFor` resolves once the condition holds. */
class Recorder {
  readonly deliveries: Delivery[] = [];
  readonly #distinct = new Set<string>();
  #waiters = new Set<() => void>();

  readonly handler: DeliveryHandler = async (delivery) => {
    this.notify(delivery);
  };

  ids(): string[] {
    return this.deliveries.map((d) => d.event.id);
  }

  distinct(): ReadonlySet<string> {
    return this.#distinct;
  }

  /** Records a delivery (for custom handlers) and lets waiters re-check. */
  notify(delivery: Delivery): void {
    this.deliveries.push(delivery);
    this.#distinct.add(delivery.event.id);
    for (const wake of this.#waiters) wake();
  }

  async waitFor(condition: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
    if (condition()) return;
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`timed out waiting for ${what}; got ${this.deliveries.length} deliveries`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

const settle = (ms = 400): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const isCode = (code: string) => (error: unknown) => error instanceof FlotillaError && error.code === code;

/**
 * The one behaviour suite every EventBus implementation must pass.
 *
 *   busConformance("memory", async () => {
 *     const bus = new MemoryBus();
 *     return { bus, other: async () => bus };
 *   });
 */
export function busConformance(name: string, make: () => Promise<BusWorld>): void {
  async function open(t: TestContext) {
    const world = await make();
    const handles = new Set<EventBus>([world.bus]);
    const subscriptions: Subscription[] = [];
    t.after(async () => {
      await Promise.all(subscriptions.map((s) => s.stop()));
      await Promise.all([...handles].map((h) => h.close()));
    });
    const other = async (): Promise<EventBus> => {
      const handle = await world.other();
      handles.add(handle);
      return handle;
    };
    const subscribe = async (bus: EventBus, options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> => {
      const subscription = await bus.subscribe(options, handler);
      subscriptions.push(subscription);
      return subscription;
    };
    return { bus: world.bus, other, subscribe };
  }

  describe(`EventBus conformance: ${name}`, () => {
    test("a published event is delivered with every attribute and data byte intact", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const full = makeEvent(type, {
        subject: 'Événement "n°1" 100% 🎉 a b',
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        data: Uint8Array.from({ length: 256 }, (_, i) => i),
      });
      const bare = makeEvent(type, { data: new Uint8Array(0) });
      const recorder = new Recorder();
      await subscribe(bus, { consumer: uniqueConsumer(), type }, recorder.handler);
      await bus.publish([full, bare]);
      await recorder.waitFor(() => recorder.deliveries.length >= 2, "both events");
      const byId = new Map(recorder.deliveries.map((d) => [d.event.id, d]));
      for (const sent of [full, bare]) {
        const got = byId.get(sent.id);
        assert.ok(got !== undefined, `event ${sent.id} delivered`);
        assert.equal(got.attempt, 1);
        assert.deepEqual({ ...got.event, data: [...got.event.data] }, { ...sent, data: [...sent.data] });
      }
      assert.equal("subject" in (byId.get(bare.id)?.event ?? {}), false, "absent attributes stay absent");
    });

    test("a subscription receives only its event type, in publish order", async (t) => {
      const { bus, subscribe } = await open(t);
      const [a, b] = [uniqueType(), uniqueType()];
      const events = Array.from({ length: 20 }, (_, i) => makeEvent(i % 2 === 0 ? a : b));
      const recorder = new Recorder();
      await subscribe(bus, { consumer: uniqueConsumer(), type: a, concurrency: 1 }, recorder.handler);
      await bus.publish(events);
      const expected = events.filter((e) => e.type === a).map((e) => e.id);
      await recorder.waitFor(() => recorder.deliveries.length >= expected.length, "the 10 events of type a");
      await settle();
      assert.deepEqual(recorder.ids(), expected);
    });

    test("a durable consumer resumes where it stopped: no acked event again, and the ones published meanwhile", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const consumer = uniqueConsumer();
      const first = new Recorder();
      const subscription = await subscribe(bus, { consumer, type }, first.handler);
      const before = makeEvents(type, 3);
      await bus.publish(before);
      await first.waitFor(() => first.deliveries.length >= 3, "the first 3 events");
      await subscription.stop();
      const during = makeEvents(type, 2);
      await bus.publish(during);
      await settle(200);
      assert.equal(first.deliveries.length, 3, "a stopped subscription receives nothing");
      const second = new Recorder();
      await subscribe(bus, { consumer, type }, second.handler);
      await second.waitFor(() => second.deliveries.length >= 2, "the 2 events published while stopped");
      await settle();
      assert.deepEqual(second.ids().sort(), during.map((e) => e.id).sort());
    });

    test("a new consumer name starts from the beginning of the log", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const events = makeEvents(type, 4);
      await bus.publish(events);
      const recorder = new Recorder();
      await subscribe(bus, { consumer: uniqueConsumer(), type }, recorder.handler);
      await recorder.waitFor(() => recorder.deliveries.length >= 4, "the 4 earlier events");
      assert.deepEqual(recorder.ids().sort(), events.map((e) => e.id).sort());
    });

    test("replicas with the same consumer name share the work: each event handled by exactly one", async (t) => {
      const { bus, other, subscribe } = await open(t);
      const second = await other();
      const type = uniqueType();
      const consumer = uniqueConsumer();
      const all = new Recorder();
      const byReplica = [0, 0];
      const handler = (replica: 0 | 1): DeliveryHandler => async (delivery) => {
        byReplica[replica] = (byReplica[replica] ?? 0) + 1;
        await settle(5);
        all.notify(delivery);
      };
      await subscribe(bus, { consumer, type, concurrency: 2 }, handler(0));
      await subscribe(second, { consumer, type, concurrency: 2 }, handler(1));
      const events = makeEvents(type, 60);
      await bus.publish(events);
      await all.waitFor(() => all.distinct().size >= 60, "all 60 events");
      await settle();
      assert.equal(all.deliveries.length, 60, "no event handled twice");
      assert.ok((byReplica[0] ?? 0) > 0 && (byReplica[1] ?? 0) > 0, `both replicas got work: ${byReplica.join(" / ")}`);
    });

    test("two consumer names each receive every event", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const [x, y] = [new Recorder(), new Recorder()];
      await subscribe(bus, { consumer: uniqueConsumer(), type }, x.handler);
      await subscribe(bus, { consumer: uniqueConsumer(), type }, y.handler);
      const events = makeEvents(type, 10);
      await bus.publish(events);
      await x.waitFor(() => x.deliveries.length >= 10, "consumer x");
      await y.waitFor(() => y.deliveries.length >= 10, "consumer y");
      const ids = events.map((e) => e.id).sort();
      assert.deepEqual(x.ids().sort(), ids);
      assert.deepEqual(y.ids().sort(), ids);
    });

    test("a handler that throws twice gets the event 3 times, attempt 1, 2, 3, after the backoff, then it is acked", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const recorder = new Recorder();
      const times: number[] = [];
      await subscribe(bus, { consumer: uniqueConsumer(), type, backoffMs: [150, 300] }, async (delivery) => {
        times.push(Date.now());
        recorder.notify(delivery);
        if (delivery.attempt < 3) throw new Error(`failure ${delivery.attempt}`);
      });
      await bus.publish([makeEvent(type)]);
      await recorder.waitFor(() => recorder.deliveries.length >= 3, "3 deliveries");
      await settle(600);
      assert.deepEqual(
        recorder.deliveries.map((d) => d.attempt),
        [1, 2, 3],
      );
      const [t1, t2, t3] = times as [number, number, number];
      assert.ok(t2 - t1 >= 130, `first redelivery after ~150 ms, was ${t2 - t1}`);
      assert.ok(t3 - t2 >= 270, `second redelivery after ~300 ms, was ${t3 - t2}`);
    });

    test("at most `concurrency` handlers run at once, and stop() waits for them", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      let running = 0;
      let peak = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const recorder = new Recorder();
      const subscription = await subscribe(bus, { consumer: uniqueConsumer(), type, concurrency: 3 }, async (delivery) => {
        running++;
        peak = Math.max(peak, running);
        recorder.notify(delivery);
        await gate;
        running--;
      });
      await bus.publish(makeEvents(type, 10));
      await recorder.waitFor(() => recorder.deliveries.length >= 3, "3 handlers started");
      await settle(300);
      assert.equal(peak, 3);
      let stopped = false;
      const stopping = subscription.stop().then(() => {
        stopped = true;
      });
      await settle(100);
      assert.equal(stopped, false, "stop() waits for handlers in progress");
      release();
      await stopping;
      assert.equal(running, 0);
    });

    test("publishing an event id again is stored once", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const event = makeEvent(type);
      await bus.publish([event, event]);
      await bus.publish([event]);
      const recorder = new Recorder();
      await subscribe(bus, { consumer: uniqueConsumer(), type }, recorder.handler);
      await recorder.waitFor(() => recorder.deliveries.length >= 1, "the event");
      await settle();
      assert.deepEqual(recorder.ids(), [event.id]);
    });

    test("1000 events published in one call all arrive", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const recorder = new Recorder();
      await subscribe(bus, { consumer: uniqueConsumer(), type, concurrency: 64 }, recorder.handler);
      const events = makeEvents(type, 1000);
      const started = performance.now();
      await bus.publish(events);
      const published = performance.now();
      await recorder.waitFor(() => recorder.distinct().size >= 1000, "1000 distinct events", 20_000);
      const received = performance.now();
      assert.deepEqual([...recorder.distinct()].sort(), events.map((e) => e.id).sort());
      t.diagnostic(`${name}: publish ${Math.round(1000 / ((published - started) / 1000))} events/s, publish+deliver ${Math.round(1000 / ((received - started) / 1000))} events/s`);
    });

    test("a consumer name bound to one type cannot be reused for another", async (t) => {
      const { bus, subscribe } = await open(t);
      const consumer = uniqueConsumer();
      await subscribe(bus, { consumer, type: uniqueType() }, async () => {});
      await assert.rejects(bus.subscribe({ consumer, type: uniqueType() }, async () => {}), isCode("KIT_ERR_CONFIG_INVALID"));
    });

    test("invalid events, types and options are rejected before anything is stored", async (t) => {
      const { bus, subscribe } = await open(t);
      const type = uniqueType();
      const good = makeEvent(type);
      await assert.rejects(bus.publish([good, makeEvent("bad type with spaces")]), isCode("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(bus.publish([{ ...good, id: "" }]), isCode("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(bus.subscribe({ consumer: uniqueConsumer(), type: "events.>" }, async () => {}), isCode("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(bus.subscribe({ consumer: "", type }, async () => {}), isCode("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(bus.subscribe({ consumer: uniqueConsumer(), type, concurrency: 0 }, async () => {}), isCode("KIT_ERR_INVALID_ARGUMENT"));
      await assert.rejects(bus.subscribe({ consumer: uniqueConsumer(), type, backoffMs: [] }, async () => {}), isCode("KIT_ERR_INVALID_ARGUMENT"));
      const recorder = new Recorder();
      await subscribe(bus, { consumer: uniqueConsumer(), type }, recorder.handler);
      await settle(300);
      assert.equal(recorder.deliveries.length, 0, "the good event of a rejected batch was not stored");
    });

    test("after close(), publish and subscribe fail with KIT_ERR_BUS_UNAVAILABLE", async (t) => {
      const { bus } = await open(t);
      await bus.close();
      await bus.close();
      await assert.rejects(bus.publish([makeEvent(uniqueType())]), isCode("KIT_ERR_BUS_UNAVAILABLE"));
      await assert.rejects(bus.subscribe({ consumer: uniqueConsumer(), type: uniqueType() }, async () => {}), isCode("KIT_ERR_BUS_UNAVAILABLE"));
    });
  });
}
