import type { DescMessage, DescMethodUnary, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Instance, Watch } from "../registry/types.ts";
import type { CallContext, Metadata, Transport } from "../transport/types.ts";

/** Per-call options of a typed client method. */
export interface CallOptions {
  /** Give up after this long (from now). */
  timeoutMs?: number;
  /** Give up at this epoch-millisecond instant. The earliest of all given deadlines wins. */
  deadline?: number;
  /** Sent as headers; interceptors add trace context. */
  metadata?: Metadata;
  signal?: AbortSignal;
  /**
   * The handler's context, when calling from inside a handler: its deadline
   * and cancellation carry over to this call. Metadata is not forwarded
   * implicitly; pass what you mean to forward.
   *
   *   async getBooking(req, ctx) { const e = await catalog.getEvent({ eventId }, { parent: ctx }); ... }
   */
  parent?: Pick<CallContext, "deadline" | "signal">;
}

/** One attempt of a call, to one instance, as client interceptors see it. */
export interface ClientCall {
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly instance: Instance;
  readonly input: MessageShape<DescMessage>;
  /** Epoch milliseconds; every call has one (the default timeout applies otherwise). */
  readonly deadline: number;
  /** A fresh object per attempt: interceptors may add to it (traceparent). */
  readonly metadata: Metadata;
  readonly signal: AbortSignal | undefined;
  /** 0 for the first attempt, then 1, 2 for retries. */
  readonly attempt: number;
}

export type ClientSend = (call: ClientCall) => Promise<MessageShape<DescMessage>>;

/** Wraps each attempt (telemetry: a client span, trace context injection). The first is the outermost. */
export type ClientInterceptor = (next: ClientSend) => ClientSend;

export interface ClientPolicy {
  /** Deadline of a call that sets none. @default 10000 */
  defaultTimeoutMs: number;
  /** Retries after the first attempt, for idempotent methods and retryable errors. @default 2 */
  maxRetries: number;
  /** First retry waits about this long (jittered), doubling after. @default 25 */
  retryBackoffMs: number;
  /** @default 250 */
  retryBackoffMaxMs: number;
  /**
   * Also retry a non-idempotent method when the failure proves the request
   * never reached a handler (refused connection, draining instance). @default true
   */
  transparentRetry: boolean;
  /**
   * Opens after this many consecutive calls failed (after their retries) as
   * unreachable, unavailable or too slow; false disables it.
   * @default { consecutiveFailures: 5, halfOpenAfterMs: 5000 }
   */
  breaker: { consecutiveFailures: number; halfOpenAfterMs: number } | false;
  /** Calls in flight to the upstream, and calls waiting for a slot; false disables it. @default { limit: 256, queue: 256 } */
  bulkhead: { limit: number; queue: number } | false;
  /** An instance whose transport failed is skipped for this long, doubling per failure up to `ejectMaxMs`. @default 1000 */
  ejectMs: number;
  /** @default 30000 */
  ejectMaxMs: number;
}

export interface ClientDeps {
  /** The upstream's instances: a registry Watch, or any function returning them. */
  instances: Pick<Watch, "instances"> | (() => readonly Instance[]);
  /** Usually a TransportSet (`createTransports`), picking by address scheme. */
  transports: Transport;
  interceptors?: readonly ClientInterceptor[];
  policy?: Partial<ClientPolicy>;
  /** For tests: the randomness of load balancing and jitter. @default Math.random */
  random?: () => number;
}

type UnaryKeys<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { methodKind: "unary" } ? K : never;
}[keyof S["method"]];

/** A typed client: one async function per unary method of the contract. */
export type Client<S extends DescService> = {
  [K in UnaryKeys<S>]: S["method"][K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (input: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : never;
};
