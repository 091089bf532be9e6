// Calls any method of any contract by descriptor: what the gateway needs to
// turn a REST request into a service call. One resilient Upstream per service,
// created on first use from a registry watch.
import type { DescMessage, DescMethodUnary, DescService, MessageShape } from "@bufbuild/protobuf";
import type { ClientInterceptor, ClientPolicy } from "../client/types.ts";
import { Upstream } from "../client/upstream.ts";
import type { Registry, Watch } from "../registry/types.ts";
import { clientTelemetry } from "../telemetry/rpc-interceptors.ts";
import type { Telemetry } from "../telemetry/telemetry.ts";
import { methodPath } from "../transport/method-path.ts";
import type { Metadata, Transport } from "../transport/types.ts";

export interface InvokeOptions {
  metadata: Metadata;
  deadline?: number;
  signal?: AbortSignal;
}

export type Invoke = (service: DescService, method: DescMethodUnary, input: MessageShape<DescMessage>, options: InvokeOptions) => Promise<MessageShape<DescMessage>>;

export interface Invoker {
  invoke: Invoke;
  close(): void;
}

/** `flotilla.catalog.v1.CatalogService` is served by the service registered as `catalog`. */
export function serviceNameOf(service: DescService): string {
  const parts = service.typeName.split(".");
  return parts.length >= 3 && parts[0] === "flotilla" ? parts[1]! : service.typeName;
}

export interface InvokerDeps {
  registry: Registry;
  transports: Transport;
  telemetry?: Telemetry;
  policy?: Partial<ClientPolicy>;
  /**
   * The service this invoker calls for (`gateway`, `catalog`…): in-process
   * calls carry it as `ctx.caller`, so caller policies hold embedded as they do
   * over mTLS (where the certificate says it instead).
   */
  caller?: string;
}

export function createInvoker(deps: InvokerDeps): Invoker {
  const transports = deps.caller === undefined ? deps.transports : withCaller(deps.transports, deps.caller);
  const upstreams = new Map<string, Promise<{ upstream: Upstream; watch: Watch }>>();
  const interceptors = deps.telemetry ? [telemetryInterceptor(deps.telemetry)] : [];

  const upstreamOf = (service: DescService) => {
    let entry = upstreams.get(service.typeName);
    if (!entry) {
      entry = deps.registry.watch(serviceNameOf(service)).then((watch) => ({
        watch,
        upstream: new Upstream(service, { instances: watch, transports, interceptors, ...(deps.policy ? { policy: deps.policy } : {}) }),
      }));
      // A failed watch is not cached: the next request tries again.
      entry.catch(() => upstreams.delete(service.typeName));
      upstreams.set(service.typeName, entry);
    }
    return entry;
  };

  return {
    async invoke(service, method, input, options) {
      const { upstream } = await upstreamOf(service);
      return upstream.call(method, input, {
        metadata: options.metadata,
        ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    },
    close() {
      for (const entry of upstreams.values()) entry.then(({ watch }) => watch.stop(), () => {});
      upstreams.clear();
    },
  };
}

/** A client span and trace context on every attempt. */
export function telemetryInterceptor(telemetry: Telemetry): ClientInterceptor {
  const traced = clientTelemetry(telemetry);
  return (next) => (call) => traced(serviceNameOf(call.service), methodPath(call.method).slice(1), call.metadata, (metadata) => next({ ...call, metadata }));
}

/** Adds the calling service to every call's send options. */
function withCaller(transports: Transport, caller: string): Transport {
  return {
    schemes: transports.schemes,
    unary: (target, method, input, options) => transports.unary(target, method, input, { ...options, caller }),
    close: () => transports.close(),
  };
}
