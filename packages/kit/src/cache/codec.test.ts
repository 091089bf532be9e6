import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogV1 } from "@flotilla/contracts";
import { bytesCodec, jsonCodec, protoCodec } from "./codec.ts";

test("protoCodec round-trips a message, int64 and unicode included", () => {
  const codec = protoCodec(catalogV1.EventSchema);
  const event = create(catalogV1.EventSchema, { eventId: "e-1", title: "Nuit du jazz — 東京 🎷", capacity: 120, priceMinor: 9_007_199_254_740_993n, currency: "EUR" });
  const back = codec.decode(codec.encode(event));
  assert.equal(back.title, "Nuit du jazz — 東京 🎷");
  assert.equal(back.priceMinor, 9_007_199_254_740_993n);
  assert.equal(back.capacity, 120);
});

test("jsonCodec round-trips JSON values and rejects bytes that are not UTF-8 JSON", () => {
  const codec = jsonCodec<{ a: number[]; s: string }>();
  assert.deepEqual(codec.decode(codec.encode({ a: [1, 2], s: "ü🚀" })), { a: [1, 2], s: "ü🚀" });
  assert.throws(() => codec.decode(new Uint8Array([0x22, 0xff, 0x22])), TypeError);
  assert.throws(() => codec.decode(new TextEncoder().encode("{")), SyntaxError);
});

test("bytesCodec passes bytes through", () => {
  const value = new Uint8Array([0, 1, 255]);
  assert.deepEqual(bytesCodec.decode(bytesCodec.encode(value)), value);
});
