import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { createBus, MemoryBus, NatsBus } from "./index.ts";

const url = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const stream = `ft_idx_${randomUUID().slice(0, 8)}`;

after(async () => {
  const nc = await connect({ servers: url });
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
  await nc.close();
});

test("createBus resolves memory and nats:// URLs", async () => {
  const memory = await createBus("memory");
  assert.ok(memory instanceof MemoryBus);
  await memory.close();
  const nats = await createBus(url, { stream, subjectPrefix: stream.replaceAll("_", "") });
  assert.ok(nats instanceof NatsBus);
  assert.equal(nats.stream, stream);
  await nats.close();
});

test("createBus rejects an unknown scheme without leaking credentials", async () => {
  await assert.rejects(createBus("kafka://user:secret@broker:9092"), (e) => {
    return e instanceof FlotillaError && e.code === "KIT_ERR_UNKNOWN_BACKEND" && !e.message.includes("secret");
  });
});
