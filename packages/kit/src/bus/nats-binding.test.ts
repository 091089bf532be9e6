import assert from "node:assert/strict";
import { test } from "node:test";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { FlotillaError } from "../errors/index.ts";
import { decodeHeaderValue, encodeHeaderValue, fromNatsMessage, toNatsMessage, toWireMessage } from "./nats-binding.ts";
import type { CloudEvent } from "./types.ts";

const event: CloudEvent = {
  specversion: "1.0",
  id: "0190b5e4-1234-7abc-8def-0123456789ab",
  source: "/flotilla/catalog",
  type: "catalog.event_published.v1",
  subject: "Euro € 😀",
  time: "2030-01-02T03:04:05.678Z",
  datacontenttype: "application/protobuf",
  dataschema: "flotilla.catalog.v1.EventPublished",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  tracestate: "rojo=00f067aa0ba902b7",
  data: new Uint8Array([0, 1, 2, 255]),
};
const malformed = (e: unknown) => e instanceof FlotillaError && e.code === "KIT_ERR_MALFORMED_REQUEST";

test("binary mode: each attribute is a ce- header, content-type mirrors datacontenttype, the body is the data", () => {
  const { headers, data } = toNatsMessage(event);
  assert.equal(data, event.data);
  assert.deepEqual(Object.fromEntries([...headers].map(([k, v]) => [k, v.join()])), {
    "ce-specversion": "1.0",
    "ce-id": event.id,
    "ce-source": "/flotilla/catalog",
    "ce-type": "catalog.event_published.v1",
    "ce-time": "2030-01-02T03:04:05.678Z",
    "ce-datacontenttype": "application/protobuf",
    "ce-dataschema": "flotilla.catalog.v1.EventPublished",
    "ce-subject": "Euro%20%E2%82%AC%20%F0%9F%98%80",
    "ce-traceparent": event.traceparent,
    "ce-tracestate": event.tracestate,
    "content-type": "application/protobuf",
  });
  assert.deepEqual(fromNatsMessage({ headers, data }), event);
});

test("an event without optional attributes has no header for them and decodes without them", () => {
  const { subject: _s, traceparent: _p, tracestate: _t, ...bare } = event;
  const message = toNatsMessage(bare);
  assert.equal(message.headers.has("ce-subject"), false);
  assert.deepEqual(fromNatsMessage(message), bare);
});

test("header values are percent-encoded as the binding says, and decoded leniently", () => {
  assert.equal(encodeHeaderValue('a "b" 100%'), "a%20%22b%22%20100%25");
  assert.equal(encodeHeaderValue("tab\there\u007f"), "tab%09here%7F");
  assert.equal(encodeHeaderValue("Euro € 😀"), "Euro%20%E2%82%AC%20%F0%9F%98%80");
  assert.throws(() => encodeHeaderValue("lone \ud800"), /surrogate/);
  assert.equal(decodeHeaderValue("Euro%20%e2%82%ac"), "Euro €", "lower-case hex is accepted");
  assert.equal(decodeHeaderValue("%41BC"), "ABC", "needlessly encoded characters are accepted");
  assert.equal(decodeHeaderValue('"quoted \\"old\\" style"'), 'quoted "old" style');
  assert.throws(() => decodeHeaderValue("%C0%A0"), malformed, "overlong UTF-8 is rejected");
  assert.throws(() => decodeHeaderValue("bad%2"), malformed);
  for (const s of ["", "plain", "%", " leading", "mixed é and %41", "😀😀"]) assert.equal(decodeHeaderValue(encodeHeaderValue(s)), s);
});

test("header names are matched case-insensitively and ce-datacontenttype may be absent if content-type has it", () => {
  const headers = natsHeaders();
  for (const [k, v] of toNatsMessage(event).headers) if (k !== "ce-datacontenttype") headers.set(k.toUpperCase(), v.join());
  assert.deepEqual(fromNatsMessage({ headers, data: event.data }), event);
});

test("structured mode, missing attributes and foreign content types are rejected as malformed", () => {
  const structured = toNatsMessage(event).headers;
  structured.set("content-type", "application/cloudevents+json");
  assert.throws(() => fromNatsMessage({ headers: structured, data: new Uint8Array() }), malformed);
  assert.throws(() => fromNatsMessage({ data: new Uint8Array() }), malformed);
  const missing = toNatsMessage(event).headers;
  missing.delete("ce-source");
  assert.throws(() => fromNatsMessage({ headers: missing, data: new Uint8Array() }), /ce-source/);
  const json = toNatsMessage({ ...event, datacontenttype: "application/json" as "application/protobuf" }).headers;
  assert.throws(() => fromNatsMessage({ headers: json, data: new Uint8Array() }), /datacontenttype/);
  const old = toNatsMessage({ ...event, specversion: "0.3" as "1.0" }).headers;
  assert.throws(() => fromNatsMessage({ headers: old, data: new Uint8Array() }), /specversion/);
});

test("the bus's wire-form headers are the binding's headers, byte for byte", () => {
  const { subject: _s, ...bare } = event;
  for (const e of [event, bare]) {
    const wire = toWireMessage(e);
    const reference = (toNatsMessage(e).headers as unknown as { encode(): Uint8Array }).encode();
    assert.equal(Buffer.from(wire.headers.encode()).toString(), Buffer.from(reference).toString());
    assert.equal(wire.data, e.data);
  }
});
