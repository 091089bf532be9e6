import { create, type DescMessage, type DescMethodUnary, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { setTimeout as sleep } from "node:timers/promises";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import type { Instance } from "../registry/types.ts";
import { mayHaveBeenDelivered } from "../transport/transport-failure.ts";
import type { Metadata } from "../transport/types.ts";
import { Balancer } from "./balancer.ts";
import { type BreakerState, UpstreamGuards } from "./guards.ts";
import type { CallOptions, ClientCall, ClientDeps, ClientPolicy, ClientSend } from "./types.ts";
import { routeByVersion } from "./version-route.ts";

export const defaultPolicy: ClientPolicy = {
  defaultTimeoutMs: 10_000,
  maxRetries: 2,
  retryBackoffMs: 25,
  retryBackoffMaxMs: 250,
  transparentRetry: true,
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 5_000 },
  bulkhead: { limit: 256, queue: 256 },
  ejectMs: 1_000,
  ejectMaxMs: 30_000,
};

const noMetadata: Metadata = Object.freeze({});

function isIdempotent(method: DescMethodUnary): boolean {
  return method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
}

/**
 * Everything the client knows about one upstream service: where its
 * instances are, how loaded each is, its breaker and bulkhead. Typed clients
 * (`createClient`) are thin wrappers over `call`.
 */
export class Upstream {
  readonly service: DescService;
  readonly #instances: () => readonly Instance[];
  readonly #policy: ClientPolicy;
  readonly #balancer: Balancer;
  readonly #guards: UpstreamGuards;
  readonly #send: ClientSend;
  readonly #random: () => number;
  // Interceptors may add to an attempt's metadata; without them nothing writes to it.
  readonly #copyMetadata: boolean;

  constructor(service: DescService, deps: ClientDeps) {
    this.service = service;
    const source = deps.instances;
    this.#instances = typeof source === "function" ? source : () => source.instances();
    this.#policy = { ...defaultPolicy, ...deps.policy };
    this.#random = deps.random ?? Math.random;
    this.#balancer = new Balancer({ random: this.#random, ejectMs: this.#policy.ejectMs, ejectMaxMs: this.#policy.ejectMaxMs });
    this.#guards = new UpstreamGuards(service.typeName, this.#policy);
    const transport = deps.transports;
    let send: ClientSend = (call) => transport.unary(call.instance, call.method, call.input, { deadline: call.deadline, metadata: call.metadata, signal: call.signal });
    const interceptors = deps.interceptors ?? [];
    this.#copyMetadata = interceptors.length > 0;
    for (let i = interceptors.length - 1; i >= 0; i--) send = (interceptors[i] as (next: ClientSend) => ClientSend)(send);
    this.#send = send;
  }

  get breakerState(): BreakerState {
    return this.#guards.breakerState;
  }

  call<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, init: MessageInitShape<I>, options: CallOptions = {}): Promise<MessageShape<O>> {
    let input: MessageShape<DescMessage>;
    try {
      input = create(method.input, init) as MessageShape<DescMessage>;
    } catch (cause) {
      return Promise.reject(kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `cannot build a ${method.input.typeName} from the input`, { cause }));
    }
    const deadline = this.#deadlineOf(options);
    const signal = this.#signalOf(options);
    const metadata = options.metadata ?? noMetadata;
    // The breaker judges whole calls: one dead instance among several is the
    // balancer's business (ejection, retry elsewhere), not a reason to cut off
    // the service.
    const attempts = () => this.#attempts(method as DescMethodUnary, input, deadline, metadata, signal);
    return this.#guards.limit(() => this.#guards.guard(attempts), signal) as Promise<MessageShape<O>>;
  }

  #deadlineOf(options: CallOptions): number {
    let deadline = options.deadline;
    if (options.timeoutMs !== undefined) deadline = Math.min(deadline ?? Infinity, Date.now() + options.timeoutMs);
    const parent = options.parent?.deadline;
    if (parent !== undefined) deadline = Math.min(deadline ?? Infinity, parent);
    return deadline ?? Date.now() + this.#policy.defaultTimeoutMs;
  }

  #signalOf(options: CallOptions): AbortSignal | undefined {
    const own = options.signal;
    const parent = options.parent?.signal;
    if (own === undefined) return parent;
    if (parent === undefined) return own;
    return AbortSignal.any([own, parent]);
  }

  #mayRetry(method: DescMethodUnary, error: FlotillaError): boolean {
    if (!error.retryable) return false;
    if (isIdempotent(method)) return true;
    return this.#policy.transparentRetry && !mayHaveBeenDelivered(error);
  }

  async #attempts(method: DescMethodUnary, input: MessageShape<DescMessage>, deadline: number, metadata: Metadata, signal: AbortSignal | undefined) {
    let tried: Instance[] | undefined;
    for (let attempt = 0; ; attempt++) {
      const instance = this.#balancer.pick(routeByVersion(this.#instances(), metadata), tried);
      if (instance === undefined) throw kitErrors.create("KIT_ERR_NO_INSTANCE", `no live instance of ${this.service.typeName}`);
      try {
        return await this.#attempt(method, instance, input, deadline, metadata, signal, attempt);
      } catch (thrown) {
        const error = FlotillaError.from(thrown);
        if (attempt >= this.#policy.maxRetries || !this.#mayRetry(method, error)) throw error;
        const { retryBackoffMs, retryBackoffMaxMs } = this.#policy;
        const delay = Math.min(retryBackoffMs * 2 ** attempt, retryBackoffMaxMs) * (0.5 + this.#random());
        if (Date.now() + delay >= deadline) throw error;
        try {
          await sleep(delay, undefined, signal === undefined ? undefined : { signal });
        } catch (cause) {
          throw kitErrors.create("KIT_ERR_CANCELED", "the caller canceled the call", { cause });
        }
        tried = tried === undefined ? [instance] : [...tried, instance];
      }
    }
  }

  async #attempt(method: DescMethodUnary, instance: Instance, input: MessageShape<DescMessage>, deadline: number, metadata: Metadata, signal: AbortSignal | undefined, attempt: number) {
    const load = this.#balancer.load(instance);
    load.inFlight++;
    const started = performance.now();
    const call: ClientCall = { service: this.service, method, instance, input, deadline, metadata: this.#copyMetadata ? { ...metadata } : metadata, signal, attempt };
    try {
      const output = await this.#send(call);
      this.#balancer.succeeded(load, performance.now() - started);
      return output;
    } catch (thrown) {
      const error = FlotillaError.from(thrown);
      this.#balancer.failed(load, error);
      throw error;
    } finally {
      load.inFlight--;
    }
  }
}
