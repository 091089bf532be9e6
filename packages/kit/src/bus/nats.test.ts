import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, type TestContext, test } from "node:test";
import { jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect, headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { busConformance } from "./conformance.ts";
import { eventId } from "./event-id.ts";
import { NatsBus, type NatsBusOptions } from "./nats.ts";
import { natsConsumerName } from "./nats-names.ts";
import type { CloudEvent, Delivery } from "./types.ts";

const url = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const run = randomUUID().replaceAll("-", "").slice(0, 10);
const stream = `ft_${run}`;
const settings: NatsBusOptions = { stream, subjectPrefix: `ft${run}`, consumeRetryMs: 200 };
/** Streams some tests create besides the shared one; all deleted at the end. */
const streams = new Set([stream]);

after(async () => {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  for (const name of streams) await jsm.streams.delete(name).catch(() => {});
  await nc.close();
});

busConformance("nats", async () => {
  const bus = await NatsBus.connect({ servers: url }, settings);
  return { bus, other: () => NatsBus.connect({ servers: url }, settings) };
});

/** A bus and a raw connection for one test, closed after it whatever happens. */
async function open(t: TestContext, options: NatsBusOptions = settings) {
  const bus = await NatsBus.connect({ servers: url }, options);
  const nc = await connect({ servers: url });
  t.after(async () => {
    await bus.close();
    await nc.close();
  });
  return { bus, nc, jsm: await jetstreamManager(nc) };
}

const event = (type: string, extra: Partial<CloudEvent> = {}): CloudEvent => ({
  specversion: "1.0",
  id: eventId(),
  source: "/flotilla/test",
  type,
  time: new Date().toISOString(),
  datacontenttype: "application/protobuf",
  dataschema: "flotilla.test.v1.Probe",
  data: randomBytes(8),
  ...extra,
});
const uniqueType = (): string => `nats.t${randomUUID().slice(0, 8)}.v1`;
const uniqueConsumer = (): string => `c${randomUUID().slice(0, 8)}`;
const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(20);
  }
}

test("the stream is file-backed with limits retention on <prefix>.>, and a new max age is applied on connect", async (t) => {
  const name = `ft_cfg_${run}`;
  streams.add(name);
  const options = { stream: name, subjectPrefix: `ftcfg${run}`, maxAgeMs: 60_000 };
  const { nc, jsm } = await open(t, options);
  const { config } = await jsm.streams.info(name);
  assert.deepEqual(config.subjects, [`ftcfg${run}.>`]);
  assert.equal(config.storage, StorageType.File);
  assert.equal(config.retention, RetentionPolicy.Limits);
  assert.equal(config.max_age, nanos(60_000));
  assert.equal(config.duplicate_window, nanos(60_000), "the duplicate window is capped at the max age");
  const again = await NatsBus.connect({ connection: nc }, { ...options, maxAgeMs: 3_600_000 });
  await again.close();
  const updated = (await jsm.streams.info(name)).config;
  assert.equal(updated.max_age, nanos(3_600_000));
  assert.equal(updated.duplicate_window, nanos(120_000));
  assert.equal(nc.isClosed(), false, "a given connection is left open");
});

test("bad settings are refused before connecting", async () => {
  for (const options of [{ stream: "a.b" }, { subjectPrefix: "events.>" }, { publishWindow: 0 }, { pullExpiresMs: 10 }]) {
    await assert.rejects(NatsBus.connect({ servers: "nats://127.0.0.1:1" }, options), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CONFIG_INVALID");
  }
});

test("events travel in CloudEvents binary mode on <prefix>.<type>: ce- headers, body = data", async (t) => {
  const { bus, nc } = await open(t);
  const type = uniqueType();
  const sent = event(type, { subject: "a b%" });
  const sub = nc.subscribe(`${settings.subjectPrefix}.${type}`, { max: 1, timeout: 5000 });
  await nc.flush();
  await bus.publish([sent]);
  let seen = 0;
  for await (const msg of sub) {
    seen++;
    assert.deepEqual([...msg.data], [...sent.data]);
    assert.equal(msg.headers?.get("ce-id"), sent.id);
    assert.equal(msg.headers?.get("ce-type"), type);
    assert.equal(msg.headers?.get("ce-specversion"), "1.0");
    assert.equal(msg.headers?.get("ce-subject"), "a%20b%25");
    assert.equal(msg.headers?.get("ce-datacontenttype"), "application/protobuf");
    assert.equal(msg.headers?.get("content-type"), "application/protobuf");
    assert.equal(msg.headers?.get("Nats-Msg-Id"), sent.id);
  }
  assert.equal(seen, 1);
});

test("republishing an event id within the duplicate window stores it once", async (t) => {
  const name = `ft_dup_${run}`;
  streams.add(name);
  const { bus, jsm } = await open(t, { stream: name, subjectPrefix: `ftdup${run}` });
  const sent = event(uniqueType());
  await bus.publish([sent]);
  await bus.publish([sent, event(sent.type)]);
  assert.equal((await jsm.streams.info(name)).state.messages, 2);
});

test("a consumer name that is not a legal NATS name is sanitised, and distinct names stay distinct", async (t) => {
  assert.equal(natsConsumerName("notifications-email"), "notifications-email");
  assert.match(natsConsumerName("notifications.message-sent"), /^notifications_message-sent_[0-9a-f]{8}$/);
  assert.notEqual(natsConsumerName("a.b"), natsConsumerName("a_b"));
  assert.ok(natsConsumerName("x".repeat(300)).length <= 64);
  const { bus, jsm } = await open(t);
  const consumer = `svc.weird name*>${randomUUID().slice(0, 6)}`;
  const subscription = await bus.subscribe({ consumer, type: uniqueType(), concurrency: 5 }, async () => {});
  const info = await jsm.consumers.info(stream, natsConsumerName(consumer));
  assert.equal(info.config.max_ack_pending, 20);
  assert.equal(info.config.ack_policy, "explicit");
  assert.equal(info.config.deliver_policy, "all");
  assert.equal(info.config.ack_wait, nanos(30_000));
  await subscription.stop();
});

test("a message that is not a binary-mode CloudEvent is terminated and reported; later events still arrive", async (t) => {
  const errors: unknown[] = [];
  const { bus, jsm } = await open(t, { ...settings, onError: (e) => errors.push(e) });
  const type = uniqueType();
  const bad = natsHeaders();
  bad.set("ce-id", "only-an-id");
  await jsm.jetstream().publish(`${settings.subjectPrefix}.${type}`, new Uint8Array([1]), { headers: bad });
  const seen: Delivery[] = [];
  await bus.subscribe({ consumer: uniqueConsumer(), type }, async (d) => {
    seen.push(d);
  });
  const good = event(type);
  await bus.publish([good]);
  await waitUntil(() => seen.length >= 1, "the good event");
  assert.deepEqual(
    seen.map((d) => d.event.id),
    [good.id],
  );
  assert.ok(errors.some((e) => e instanceof FlotillaError && e.code === "KIT_ERR_MALFORMED_REQUEST"));
});

test("stopping a busy replica strands no event: the rest reach the next subscriber long before ack_wait", async (t) => {
  const { bus } = await open(t);
  const type = uniqueType();
  const consumer = uniqueConsumer();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const first: string[] = [];
  const subscription = await bus.subscribe({ consumer, type, concurrency: 2 }, async (d) => {
    first.push(d.event.id);
    await gate;
  });
  const events = Array.from({ length: 6 }, () => event(type));
  await bus.publish(events);
  await waitUntil(() => first.length >= 2, "2 handlers running");
  const stopping = subscription.stop();
  release();
  await stopping;
  const second = new Set<string>();
  const started = Date.now();
  await bus.subscribe({ consumer, type }, async (d) => {
    second.add(d.event.id);
  });
  await waitUntil(() => new Set([...first, ...second]).size >= 6, "the rest of the events", 5000);
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual([...new Set([...first, ...second])].sort(), events.map((e) => e.id).sort());
  await settle(300);
  assert.equal(second.size + first.length, 6, "no handled event came again");
});

test("an unreachable server fails connect fast with KIT_ERR_BUS_UNAVAILABLE", async () => {
  const started = Date.now();
  await assert.rejects(NatsBus.connect({ servers: "nats://127.0.0.1:1" }, { connectTimeoutMs: 500 }), (e) => {
    return e instanceof FlotillaError && e.code === "KIT_ERR_BUS_UNAVAILABLE" && e.retryable && e.message.includes("127.0.0.1:1");
  });
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

test("an acked event is not delivered again to the same consumer from another connection", async (t) => {
  const type = uniqueType();
  const consumer = uniqueConsumer();
  const sent = event(type);
  const busA = await NatsBus.connect({ servers: url }, settings);
  t.after(() => busA.close());
  const seenA: string[] = [];
  await busA.subscribe({ consumer, type }, async (d) => {
    seenA.push(d.event.id);
  });
  await busA.publish([sent]);
  await waitUntil(() => seenA.length === 1, "the event");
  await busA.close();
  const { bus: busB } = await open(t);
  const seenB: string[] = [];
  await busB.subscribe({ consumer, type }, async (d) => {
    seenB.push(d.event.id);
  });
  await settle(500);
  assert.deepEqual(seenB, []);
});

test("a consumer deleted behind the bus's back is re-created and delivery goes on", async (t) => {
  const { bus, jsm } = await open(t, { ...settings, onError: () => {} });
  const type = uniqueType();
  const consumer = uniqueConsumer();
  const seen = new Set<string>();
  await bus.subscribe({ consumer, type }, async (d) => {
    seen.add(d.event.id);
  });
  const before = event(type);
  await bus.publish([before]);
  await waitUntil(() => seen.has(before.id), "the first event");
  await jsm.consumers.delete(stream, consumer);
  const later = event(type);
  await bus.publish([later]);
  await waitUntil(() => seen.has(later.id), "the event published after the delete", 10_000);
  assert.equal((await jsm.consumers.info(stream, consumer)).config.filter_subject, `${settings.subjectPrefix}.${type}`);
});

test("a handler slower than ack_wait keeps its message: it is not delivered again meanwhile", async (t) => {
  const { bus } = await open(t, { ...settings, ackWaitMs: 2500 });
  const type = uniqueType();
  const seen: Delivery[] = [];
  let finished = false;
  await bus.subscribe({ consumer: uniqueConsumer(), type }, async (d) => {
    seen.push(d);
    await settle(4000);
    finished = true;
  });
  await bus.publish([event(type)]);
  await waitUntil(() => finished, "the slow handler", 10_000);
  await settle(300);
  assert.deepEqual(
    seen.map((d) => d.attempt),
    [1],
  );
});
