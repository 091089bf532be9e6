// Request headers of the NATS transport. They are written and read in their
// wire form (nats/wire-headers.ts): nats.js's MsgHdrs costs about 1 µs a side
// per call for the one connect-timeout-ms header a call usually carries,
// several times what the text costs.
import type { Msg } from "@nats-io/transport-node";
import { visitHeaders, WireHeaders } from "../nats/wire-headers.ts";
import { CONTENT_TYPE_HEADER, TIMEOUT_HEADER } from "./nats-rpc-protocol.ts";

/** A request's headers, written in order (see WireHeaders). */
export class RequestHeaders extends WireHeaders {}

/** What the server reads from a request's headers. */
export interface ReadHeaders {
  contentType: string | undefined;
  timeout: string | undefined;
  /** Lower-case names; NATS's own `Nats-*` headers left out; repeated values joined with ", ". */
  metadata: Record<string, string>;
}

/** The protocol headers and the metadata of a request. */
export function readRequestHeaders(msg: Msg): ReadHeaders {
  const read: ReadHeaders = { contentType: undefined, timeout: undefined, metadata: {} };
  visitHeaders(msg, (name, value) => take(read, name, value));
  return read;
}

function take(read: ReadHeaders, name: string, value: string): void {
  const header = name.toLowerCase();
  if (header === CONTENT_TYPE_HEADER) read.contentType ??= value;
  else if (header === TIMEOUT_HEADER) read.timeout ??= value;
  else if (!header.startsWith("nats-")) {
    const metadata = read.metadata;
    metadata[header] = Object.hasOwn(metadata, header) ? `${metadata[header]}, ${value}` : value;
  }
}
