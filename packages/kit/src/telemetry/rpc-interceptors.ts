import { type Attributes, type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { FlotillaError, type RpcCode } from "../errors/index.ts";
import type { Metadata, ServerInterceptor } from "../transport/types.ts";
import type { Telemetry } from "./telemetry.ts";

// Per the OpenTelemetry RPC conventions, a server span is an error only when
// the fault is the server's; a client span is an error for any non-ok code.
const serverFaults: ReadonlySet<RpcCode> = new Set(["unknown", "deadline_exceeded", "unimplemented", "internal", "unavailable", "data_loss"]);

function rpcAttributes(method: string): Attributes {
  const slash = method.lastIndexOf("/");
  return slash < 0
    ? { "rpc.system": "connect_rpc", "rpc.method": method }
    : { "rpc.system": "connect_rpc", "rpc.service": method.slice(0, slash), "rpc.method": method.slice(slash + 1) };
}

function recordFailure(span: Span, error: FlotillaError, isError: boolean): void {
  span.setAttributes({ "rpc.connect_rpc.error_code": error.rpc, "flotilla.error_code": error.code });
  if (!isError) return;
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/**
 * Traces and measures every served call: a SERVER span `<package.Service>/<Method>`,
 * child of the caller's `traceparent`, and the RED metrics. The handler sees
 * metadata whose `traceparent` names this span, so forwarding `ctx.metadata`
 * to an outgoing call (through `clientTelemetry`) continues the trace.
 * The handler's error is rethrown unchanged.
 */
export function serverTelemetry(telemetry: Telemetry): ServerInterceptor {
  return (next) => async (input, ctx) => {
    const method = `${ctx.service.typeName}/${ctx.method.name}`;
    const span = telemetry.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: rpcAttributes(method) }, telemetry.extract(ctx.metadata));
    const finish = telemetry.metrics.startServer(telemetry.serviceName, method);
    try {
      // CallContext is a plain object; spreading keeps any fields added to it later.
      const output = await next(input, { ...ctx, metadata: telemetry.withSpan(ctx.metadata, span) });
      finish("ok");
      return output;
    } catch (error) {
      const failure = FlotillaError.from(error);
      recordFailure(span, failure, serverFaults.has(failure.rpc));
      finish(failure.rpc);
      throw error;
    } finally {
      span.end();
    }
  };
}

/**
 * Sends one outgoing call under a CLIENT span: `send` gets a copy of `metadata`
 * whose `traceparent` names the client span.
 *
 *   const call = clientTelemetry(telemetry);
 *   const reply = await call("catalog", "flotilla.catalog.v1.CatalogService/GetEvent", ctx.metadata,
 *     (metadata) => transport.unary(target, method, input, { metadata }));
 *
 * `upstream` is the called service's name (a metric label: never an address).
 */
export type ClientTelemetry = <T>(upstream: string, method: string, metadata: Metadata, send: (metadata: Metadata) => Promise<T>) => Promise<T>;

export function clientTelemetry(telemetry: Telemetry): ClientTelemetry {
  return async (upstream, method, metadata, send) => {
    const attributes = { ...rpcAttributes(method), "flotilla.upstream": upstream };
    const span = telemetry.tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes }, telemetry.extract(metadata));
    const finish = telemetry.metrics.startClient(telemetry.serviceName, upstream, method);
    try {
      const output = await send(telemetry.withSpan(metadata, span));
      finish("ok");
      return output;
    } catch (error) {
      const failure = FlotillaError.from(error);
      recordFailure(span, failure, true);
      finish(failure.rpc);
      throw error;
    } finally {
      span.end();
    }
  };
}
