import type { DescMessage, DescMethodUnary, DescService, MessageShape } from "@bufbuild/protobuf";
import type { Instance } from "../registry/types.ts";

/** Request metadata as lower-case header names, carried on every hop. */
export type Metadata = Record<string, string>;

/** What a handler knows about the call it serves. */
export interface CallContext {
  readonly service: DescService;
  readonly method: DescMethodUnary;
  /** Epoch milliseconds by which the caller needs the answer, if any. */
  readonly deadline: number | undefined;
  /** Incoming metadata (traceparent, authorization claims, request id, ...). */
  readonly metadata: Metadata;
  /** Aborted when the caller goes away or the deadline passes. */
  readonly signal: AbortSignal;
  /**
   * The calling service (`gateway`, `catalog`…) as the transport proved it: the
   * SPIFFE ID of the mTLS client certificate, or the in-process invoker's own
   * name. Undefined when unproven; caller policies deny internal methods then.
   */
  readonly caller?: string | undefined;
}

/** A unary handler working on decoded messages. */
export type UnaryFn = (input: MessageShape<DescMessage>, ctx: CallContext) => Promise<MessageShape<DescMessage>>;

/** Wraps a handler (server side): telemetry, validation, error mapping. */
export type ServerInterceptor = (next: UnaryFn) => UnaryFn;

export interface SendOptions {
  deadline?: number;
  metadata: Metadata;
  signal?: AbortSignal;
  /** Who is calling, for in-process calls (network transports prove it with the certificate instead). */
  caller?: string;
}

/**
 * Carries one unary call to one concrete instance. Implementations side by
 * side: `inproc` (no sockets, no serialisation) and `http` (the Connect
 * protocol, binary protobuf, over HTTP/1.1 keep-alive).
 */
export interface Transport {
  /** The address schemes this transport serves, e.g. `["http:"]`. */
  readonly schemes: readonly string[];
  unary<I extends DescMessage, O extends DescMessage>(
    target: Instance,
    method: DescMethodUnary<I, O>,
    input: MessageShape<I>,
    options: SendOptions,
  ): Promise<MessageShape<O>>;
  close(): Promise<void>;
}
