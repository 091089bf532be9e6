import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headers as natsHeaders, type Msg } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { readRequestHeaders, RequestHeaders } from "./nats-headers.ts";

const pairs: [string, string][] = [
  ["connect-timeout-ms", "9950"],
  ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
  ["x-request-id", " r1 "],
];

/** A received message as nats.js hands it over: raw bytes and where the header block ends. */
function received(header: Uint8Array, body: Uint8Array): Msg {
  const rdata = new Uint8Array([...header, ...body]);
  return { _rdata: rdata, _msg: { hdr: header.length }, headers: undefined, data: body } as unknown as Msg;
}

describe("NATS request headers", () => {
  it("writes the bytes nats.js's own MsgHdrs would", () => {
    const ours = new RequestHeaders();
    const theirs = natsHeaders();
    for (const [name, value] of pairs) {
      ours.add(name, value);
      theirs.set(name, value);
    }
    // What nats.js's publish writes for its own headers.
    const wire = (theirs as unknown as { encode(): Uint8Array }).encode();
    assert.deepEqual(Buffer.from(ours.encode()), Buffer.from(wire));
  });

  it("refuses what nats.js refuses, as invalid_argument", () => {
    const h = new RequestHeaders();
    for (const [name, value] of [["bad name", "v"], ["a:b", "v"], ["ok", "two\r\nlines"]] as const) {
      assert.throws(
        () => h.add(name, value),
        (error: unknown) => error instanceof FlotillaError && error.code === "KIT_ERR_INVALID_ARGUMENT",
      );
    }
  });

  it("reads the protocol headers and the metadata, from the raw bytes or from MsgHdrs alike", () => {
    const sent = new RequestHeaders();
    for (const [name, value] of pairs) sent.add(name, value);
    sent.add("Content-Type", "application/proto");
    sent.add("Nats-Msg-Id", "m1");
    sent.add("X-Tag", "a");
    sent.add("x-tag", "b");
    const expected = {
      contentType: "application/proto",
      timeout: "9950",
      metadata: { traceparent: pairs[1]?.[1], "x-request-id": "r1", "x-tag": "a, b" },
    };
    assert.deepEqual(readRequestHeaders(received(sent.encode(), new Uint8Array([1, 2]))), expected);

    const h = natsHeaders();
    for (const [name, value] of pairs) h.set(name, value);
    h.set("Content-Type", "application/proto");
    h.set("Nats-Msg-Id", "m1");
    h.set("X-Tag", "a");
    h.set("x-tag", "b");
    assert.deepEqual(readRequestHeaders({ headers: h } as unknown as Msg), expected);
    assert.deepEqual(readRequestHeaders(received(new Uint8Array(0), new Uint8Array([1]))), { contentType: undefined, timeout: undefined, metadata: {} });
  });
});
