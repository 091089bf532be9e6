// The publisher against a stand-in for JetStream: a core subscription on the
// test's subject that answers (or not) as the test says, so that windows,
// error acks, lost acks and late acks can be provoked on a real server.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { type TestContext, test } from "node:test";
import { connect, type Msg, headers as natsHeaders } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { NatsPublisher, type OutgoingMessage } from "./nats-publisher.ts";

const url = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const encoder = new TextEncoder();

async function setup(t: TestContext, options: { timeoutMs?: number; window?: number } = {}) {
  const nc = await connect({ servers: url });
  const server = await connect({ servers: url });
  const publisher = new NatsPublisher({ connection: nc, timeoutMs: options.timeoutMs ?? 2000, window: options.window ?? 256 });
  t.after(async () => {
    publisher.close();
    await nc.close();
    await server.close();
  });
  const subject = `pubtest.${randomUUID().slice(0, 8)}`;
  const messages = (n: number): OutgoingMessage[] =>
    Array.from({ length: n }, (_, i) => {
      const headers = natsHeaders();
      headers.append("Nats-Msg-Id", `m${i}`);
      return { id: `m${i}`, subject, headers, data: encoder.encode(`payload ${i}`) };
    });
  return { nc, server, publisher, subject, messages };
}

const pubAck = (seq: number) => encoder.encode(JSON.stringify({ stream: "S", seq }));

test("resolves once every message is acknowledged, with no more than `window` of a call awaiting an ack", async (t) => {
  const { server, publisher, subject, messages } = await setup(t, { window: 4 });
  const waiting: Msg[] = [];
  let most = 0;
  const ids: string[] = [];
  server.subscribe(subject, {
    callback: (_, msg) => {
      ids.push(msg.headers?.get("Nats-Msg-Id") ?? "");
      waiting.push(msg);
      most = Math.max(most, waiting.length);
      // Answer in bursts, later, so that the window fills up.
      setTimeout(() => {
        for (const m of waiting.splice(0)) m.respond(pubAck(1));
      }, 5);
    },
  });
  await server.flush();
  await publisher.publish(messages(50));
  assert.equal(ids.length, 50);
  assert.deepEqual(ids, messages(50).map((m) => m.id));
  assert.ok(most <= 4, `at most 4 awaiting an ack, saw ${most}`);
});

test("an error PubAck rejects the call with KIT_ERR_BUS_UNAVAILABLE, a size refusal with KIT_ERR_MESSAGE_TOO_LARGE", async (t) => {
  const { server, publisher, subject, messages } = await setup(t);
  let answer = { error: { code: 503, err_code: 10077, description: "maximum messages exceeded" } };
  server.subscribe(subject, { callback: (_, msg) => void msg.respond(encoder.encode(JSON.stringify(answer))) });
  await server.flush();
  await assert.rejects(publisher.publish(messages(3)), (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_BUS_UNAVAILABLE" && error.retryable && /maximum messages exceeded/.test(error.message));
  answer = { error: { code: 400, err_code: 10054, description: "message size exceeds maximum allowed" } };
  await assert.rejects(publisher.publish(messages(1)), (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_MESSAGE_TOO_LARGE");
});

test("no stream on the subject rejects at once (no responders), not after the timeout", async (t) => {
  const { publisher, messages } = await setup(t, { timeoutMs: 60_000 });
  await assert.rejects(publisher.publish(messages(2)), (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_BUS_UNAVAILABLE" && /no JetStream stream/.test(error.message));
});

test("a message never acknowledged fails its call after the timeout; its late ack is ignored and later calls work", async (t) => {
  const { server, publisher, subject, messages } = await setup(t, { timeoutMs: 300 });
  const held: Msg[] = [];
  let hold = true;
  server.subscribe(subject, {
    callback: (_, msg) => {
      if (hold && msg.headers?.get("Nats-Msg-Id") === "m1") held.push(msg);
      else msg.respond(pubAck(1));
    },
  });
  await server.flush();
  await assert.rejects(publisher.publish(messages(3)), (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_BUS_UNAVAILABLE" && /m1.*no acknowledgement/.test(error.message));
  hold = false;
  // The late answer arrives while the next call is in flight and must not count for it.
  for (const msg of held) msg.respond(pubAck(1));
  await publisher.publish(messages(3));
});

test("a PubAck without a stream is not taken for an acknowledgement", async (t) => {
  const { server, publisher, subject, messages } = await setup(t);
  server.subscribe(subject, { callback: (_, msg) => void msg.respond(encoder.encode("{}")) });
  await server.flush();
  await assert.rejects(publisher.publish(messages(1)), (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_BUS_UNAVAILABLE" && /invalid PubAck/.test(error.message));
});

test("close() fails the calls in flight and refuses new ones", async (t) => {
  const { server, publisher, subject, messages } = await setup(t, { timeoutMs: 60_000 });
  server.subscribe(subject, { callback: () => {} });
  await server.flush();
  const pending = publisher.publish(messages(2));
  await new Promise((resolve) => setTimeout(resolve, 50));
  publisher.close();
  await assert.rejects(pending, (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_BUS_UNAVAILABLE");
  await assert.rejects(publisher.publish(messages(1)), (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_BUS_UNAVAILABLE");
});
