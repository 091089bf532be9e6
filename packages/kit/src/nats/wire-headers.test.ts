import assert from "node:assert/strict";
import { after, test } from "node:test";
import { connect, headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { visitHeaders, WireHeaders } from "./wire-headers.ts";

const url = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const nc = await connect({ servers: url });
after(() => nc.close());

const invalid = (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT";

test("WireHeaders writes the block nats.js's MsgHdrs writes for the same headers", () => {
  const wire = new WireHeaders();
  const reference = natsHeaders();
  for (const [name, value] of [
    ["ce-id", "abc"],
    ["Nats-Msg-Id", "abc"],
    ["x-padded", "  trimmed  "],
    ["x-utf8", "é€"],
  ] as const) {
    wire.add(name, value);
    reference.append(name, value);
  }
  const encoded = (reference as unknown as { encode(): Uint8Array }).encode();
  assert.equal(Buffer.from(wire.encode()).toString(), Buffer.from(encoded).toString());
});

test("WireHeaders refuses what nats.js refuses: a colon or space in a name, a line break in a value", () => {
  const wire = new WireHeaders();
  assert.throws(() => wire.add("bad:name", "v"), invalid);
  assert.throws(() => wire.add("bad name", "v"), invalid);
  assert.throws(() => wire.add("", "v"), invalid);
  assert.throws(() => wire.add("x", "a\r\nInjected: yes"), invalid);
});

async function roundTrip(publish: (subject: string) => void): Promise<Msg> {
  const subject = `kit.wire-headers.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const sub = nc.subscribe(subject, { max: 1 });
  publish(subject);
  for await (const msg of sub) return msg;
  throw new Error("no message");
}

test("visitHeaders reads a received message's headers in place, in wire order, as nats.js would", async () => {
  const wire = new WireHeaders();
  wire.add("ce-id", "one");
  wire.add("CE-Type", "catalog.event_published.v1");
  wire.add("ce-id", "two");
  wire.add("x-utf8", "é€");
  const msg = await roundTrip((subject) => nc.publish(subject, new Uint8Array([1, 2, 3]), { headers: wire.asMsgHdrs() }));
  assert.ok("_rdata" in msg, "this nats.js keeps the raw bytes the fast path reads");
  const seen: [string, string][] = [];
  assert.equal(
    visitHeaders(msg, (name, value) => seen.push([name, value])),
    true,
  );
  assert.deepEqual(seen, [
    ["ce-id", "one"],
    ["CE-Type", "catalog.event_published.v1"],
    ["ce-id", "two"],
    ["x-utf8", "é€"],
  ]);
  assert.deepEqual([...msg.data], [1, 2, 3], "the data is untouched");
  // The same pairs nats.js's own decoding gives.
  const viaMsgHdrs: [string, string][] = [];
  for (const [name, values] of msg.headers ?? []) for (const value of values) viaMsgHdrs.push([name, value]);
  assert.deepEqual(
    [...seen].sort(([a], [b]) => a.localeCompare(b)),
    [...viaMsgHdrs].sort(([a], [b]) => a.localeCompare(b)),
  );
});

test("visitHeaders: a message without headers says so; an object with only MsgHdrs is read through them", async () => {
  const bare = await roundTrip((subject) => nc.publish(subject, new Uint8Array()));
  assert.equal(
    visitHeaders(bare, () => assert.fail("no header expected")),
    false,
  );
  const headers = natsHeaders();
  headers.append("a", "1");
  const seen: string[] = [];
  assert.equal(
    visitHeaders({ headers }, (name, value) => seen.push(`${name}=${value}`)),
    true,
  );
  assert.deepEqual(seen, ["a=1"]);
  assert.equal(
    visitHeaders({}, () => {}),
    false,
  );
});
