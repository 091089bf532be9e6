// NATS message headers in their wire form (`NATS/1.0\r\n<name>: <value>\r\n…\r\n`),
// written and read without nats.js's MsgHdrs. MsgHdrs keeps a Map of arrays,
// canonicalises and searches every key on each append (quadratic in the number
// of headers) and decodes a received block the same way: for the ten headers of
// a CloudEvent that was over 10 µs a message on each side, more than the rest
// of the bus's own work. Names and values are checked as MsgHdrs checks them.
import type { MsgHdrs } from "@nats-io/transport-node";
import { kitErrors } from "../errors/index.ts";

// Printable ASCII but the colon (RFC 822 field names), as nats.js requires.
const NAME = /^[!-9;-~]+$/;
const LINE_BREAK = /[\r\n]/;

/** Headers for one publish, appended in order. */
export class WireHeaders {
  #text = "NATS/1.0\r\n";

  /** Adds `name: value`; a name or value nats.js would refuse is a KIT_ERR_INVALID_ARGUMENT. */
  add(name: string, value: string): void {
    if (!NAME.test(name)) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `"${name}" is not a valid NATS header name`);
    if (LINE_BREAK.test(value)) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `the value of the header ${name} holds a line break`);
    this.#text += `${name}: ${value.trim()}\r\n`;
  }

  /** The header block as nats.js puts it on the wire. */
  encode(): Uint8Array {
    return Buffer.from(`${this.#text}\r\n`, "utf8");
  }

  /**
   * For `publish(subject, data, { headers })`: nats.js asks the headers of a
   * publish for nothing but `encode()` (@nats-io/nats-core 3.x, protocol.js).
   */
  asMsgHdrs(): MsgHdrs {
    return this as unknown as MsgHdrs;
  }
}

// nats.js keeps a received message's bytes and where its header block ends
// (a JetStream message wraps such a message as `msg`). Without these fields —
// another client version, a test double — the headers are read through MsgHdrs.
interface RawMsg {
  _rdata?: Uint8Array;
  _msg?: { hdr?: number };
}

/**
 * Calls `visit(name, value)` for every header of a received message, in wire
 * order, values trimmed as nats.js trims them; the status line is skipped.
 * Returns false when the message has no headers.
 */
export function visitHeaders(msg: { readonly headers?: MsgHdrs | undefined }, visit: (name: string, value: string) => void): boolean {
  const raw = ((msg as { msg?: unknown }).msg ?? msg) as RawMsg;
  const end = raw._msg?.hdr;
  const data = raw._rdata;
  if (end === undefined || data === undefined) {
    const headers = msg.headers;
    if (headers === undefined) return false;
    for (const [name, values] of headers) for (const value of values) visit(name, value);
    return true;
  }
  if (end <= 0) return false;
  const text = Buffer.from(data.buffer, data.byteOffset, end).toString("utf8");
  let at = text.indexOf("\r\n");
  while (at >= 0) {
    const start = at + 2;
    at = text.indexOf("\r\n", start);
    const line = at < 0 ? text.slice(start) : text.slice(start, at);
    const colon = line.indexOf(":");
    if (colon > 0) visit(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return true;
}
