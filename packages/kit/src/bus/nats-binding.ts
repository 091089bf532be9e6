// CloudEvents over NATS in binary content mode (CloudEvents NATS protocol
// binding, 1.0.3): every attribute travels as a `ce-<name>` header whose value
// is percent-encoded, and the message body is the event data untouched.
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { kitErrors } from "../errors/index.ts";
import { visitHeaders, WireHeaders } from "../nats/wire-headers.ts";
import type { CloudEvent } from "./types.ts";

/** A NATS message ready to publish, or as received. */
export interface NatsEventMessage {
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
}

const PREFIX = "ce-";
// The binding maps datacontenttype to `ce-datacontenttype`; we also set
// `content-type` to the same value so tools that only look there (and the
// binding's structured-mode test, which looks for `application/cloudevents`)
// see a binary-mode message.
const CONTENT_TYPE = "content-type";
const STRUCTURED = "application/cloudevents";

const REQUIRED = ["specversion", "id", "source", "type", "time", "datacontenttype", "dataschema"] as const;
const OPTIONAL = ["subject", "traceparent", "tracestate"] as const;
type Attribute = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];
const ATTRIBUTES: readonly Attribute[] = [...REQUIRED, ...OPTIONAL];

export function toNatsMessage(event: CloudEvent): NatsEventMessage {
  // append, not set: the headers are new, so there is nothing to replace.
  const headers = natsHeaders();
  writeEventHeaders(event, (name, value) => headers.append(name, value));
  return { headers, data: event.data };
}

/**
 * toNatsMessage for the bus's own publishes: the same headers, written in
 * their wire form (see nats/wire-headers.ts), with room for more (Nats-Msg-Id).
 */
export function toWireMessage(event: CloudEvent): { headers: WireHeaders; data: Uint8Array } {
  const headers = new WireHeaders();
  writeEventHeaders(event, (name, value) => headers.add(name, value));
  return { headers, data: event.data };
}

function writeEventHeaders(event: CloudEvent, add: (name: string, value: string) => void): void {
  for (const name of ATTRIBUTES) {
    const value = event[name];
    if (value !== undefined) add(PREFIX + name, encodeHeaderValue(value));
  }
  add(CONTENT_TYPE, encodeHeaderValue(event.datacontenttype));
}

/**
 * Reads a binary-mode CloudEvent; anything else fails with KIT_ERR_MALFORMED_REQUEST.
 * Takes a received nats.js message (or JetStream message), whose header block
 * it reads in place, or anything with MsgHdrs.
 */
export function fromNatsMessage(message: { readonly headers?: MsgHdrs | undefined; readonly data: Uint8Array }): CloudEvent {
  // One pass over the headers, names compared without case, the first of a
  // repeated name winning (as headers.get(name, Match.IgnoreCase) would):
  // looking each attribute up by name scans every header twice.
  const byName = new Map<string, string>();
  const present = visitHeaders(message, (key, value) => {
    const name = key.toLowerCase();
    if (!byName.has(name)) byName.set(name, value);
  });
  if (!present) throw malformed("the message has no headers: not a binary-mode CloudEvent");
  const contentType = byName.get(CONTENT_TYPE) ?? "";
  if (contentType.toLowerCase().startsWith(STRUCTURED)) throw malformed("structured-mode CloudEvents are not supported");
  const read = (name: Attribute): string | undefined => {
    const raw = byName.get(PREFIX + name);
    return raw === undefined ? undefined : decodeHeaderValue(raw);
  };
  const attributes: Partial<Record<Attribute, string>> = {};
  for (const name of ATTRIBUTES) {
    const value = name === "datacontenttype" ? (read(name) ?? (contentType === "" ? undefined : decodeHeaderValue(contentType))) : read(name);
    if (value !== undefined) attributes[name] = value;
  }
  const missing = REQUIRED.filter((name) => attributes[name] === undefined || attributes[name] === "");
  if (missing.length > 0) throw malformed(`the message lacks ${missing.map((m) => PREFIX + m).join(", ")}`);
  if (attributes.specversion !== "1.0") throw malformed(`unsupported specversion ${attributes.specversion}`);
  if (attributes.datacontenttype !== "application/protobuf") throw malformed(`unsupported datacontenttype ${attributes.datacontenttype}`);
  return {
    specversion: "1.0",
    id: attributes.id as string,
    source: attributes.source as string,
    type: attributes.type as string,
    ...(attributes.subject === undefined ? {} : { subject: attributes.subject }),
    time: attributes.time as string,
    datacontenttype: "application/protobuf",
    dataschema: attributes.dataschema as string,
    ...(attributes.traceparent === undefined ? {} : { traceparent: attributes.traceparent }),
    ...(attributes.tracestate === undefined ? {} : { tracestate: attributes.tracestate }),
    data: message.data,
  };
}

const encoder = new TextEncoder();
// Printable ASCII but `"` (0x22) and `%` (0x25).
const PLAIN = /^[!#$&-~]*$/;
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Percent-encodes space, `"`, `%` and everything outside printable ASCII, as UTF-8 bytes. */
export function encodeHeaderValue(value: string): string {
  // Most values (ids, types, times, URIs) need no encoding.
  if (PLAIN.test(value)) return value;
  if (!value.isWellFormed()) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "a CloudEvents attribute contains a lone UTF-16 surrogate");
  }
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    if (code >= 0x21 && code <= 0x7e && char !== '"' && char !== "%") {
      out += char;
    } else {
      for (const byte of encoder.encode(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

/** Undoes a double-quoted string (older senders), then one round of percent-decoding; invalid UTF-8 fails. */
export function decodeHeaderValue(raw: string): string {
  const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw;
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  let i = 0;
  while (i < value.length) {
    if (value[i] === "%") {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw malformed(`bad percent-encoding in header value ${JSON.stringify(raw)}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else {
      const char = String.fromCodePoint(value.codePointAt(i) as number);
      bytes.push(...encoder.encode(char));
      i += char.length;
    }
  }
  try {
    return strictDecoder.decode(new Uint8Array(bytes));
  } catch (cause) {
    throw malformed(`header value ${JSON.stringify(raw)} is not valid UTF-8 once decoded`, cause);
  }
}

function malformed(message: string, cause?: unknown) {
  return kitErrors.create("KIT_ERR_MALFORMED_REQUEST", `bad CloudEvent on NATS: ${message}`, cause === undefined ? undefined : { cause });
}
