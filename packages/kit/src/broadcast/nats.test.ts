import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { broadcastConformance } from "./conformance.ts";
import { createBroadcast } from "./index.ts";
import { NatsBroadcast } from "./nats.ts";

const NATS = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

broadcastConformance("nats", async () => {
  const prefix = `bc${process.pid}${Math.random().toString(36).slice(2, 8)}`;
  const a = await NatsBroadcast.connect({ servers: NATS, prefix });
  const b = await NatsBroadcast.connect({ servers: NATS, prefix });
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

test("createBroadcast resolves memory and nats, and names what it expected for anything else", async () => {
  const memory = await createBroadcast("memory");
  await memory.close();
  const nats = await createBroadcast(NATS);
  assert.ok(nats instanceof NatsBroadcast);
  await nats.close();
  await assert.rejects(createBroadcast("redis://user:secret@host:6379"), (e) => {
    assert.ok(e instanceof FlotillaError);
    assert.equal(e.code, "KIT_ERR_UNKNOWN_BACKEND");
    assert.doesNotMatch(e.message, /secret/);
    return true;
  });
});

test("an unreachable NATS is KIT_ERR_BUS_UNAVAILABLE", async () => {
  await assert.rejects(NatsBroadcast.connect({ servers: "nats://127.0.0.1:1", connectTimeoutMs: 300 }), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_BUS_UNAVAILABLE");
});
