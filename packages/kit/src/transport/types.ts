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
}

/** A unary handler working on decoded messages. */
export type UnaryFn = (input: MessageShape<DescMessage>, ctx: CallContext) => Promise<MessageShape<DescMessage>>;

/** Wraps a handler (server side): telemetry, validation, error mapping. */
export type ServerInterceptor = (next: UnaryFn) => UnaryFn;

export interface SendOptions {
  deadline?: number;
  metadata: Metadata;
  signal?: AbortSignal;
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
