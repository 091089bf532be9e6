import { type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
} from "fastify";
import { Registry } from "prom-client";
import { FlotillaError } from "../errors/index.ts";
import type { Metadata } from "../transport/types.ts";
import type { Telemetry } from "./telemetry.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** `traceparent`/`tracestate` naming this request's SERVER span: pass as metadata to upstream calls. */
    traceMetadata: Metadata;
  }
}

/** The Content-Type of `metricsText`. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** The Prometheus text exposition of `registry`, for the runtime's `/metrics`. */
export function metricsText(registry: Registry): Promise<string> {
  return registry.metrics();
}

/** Stands for routes Fastify did not match, so unknown URLs cannot blow up label cardinality. */
export const UNMATCHED_ROUTE = "unmatched";
/** Recorded when the client goes away before the response is sent (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

interface InFlight {
  span: Span;
  started: number;
  done: boolean;
}

const inFlight = new WeakMap<FastifyRequest, InFlight>();

/** The SERVER span of a request handled under `fastifyTelemetry`, to add attributes to. */
export function requestSpan(request: FastifyRequest): Span | undefined {
  return inFlight.get(request)?.span;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Traces and measures every request of a Fastify instance. Call it on the
 * instance before registering routes (hooks reach the routes of the same
 * encapsulation context and its children):
 *
 *   const app = Fastify();
 *   fastifyTelemetry(telemetry)(app);
 *   app.get("/v1/events/:id", (request) => call("catalog", method, request.traceMetadata, send));
 *
 * It serves nothing: the runtime mounts `/metrics` with `metricsText`.
 */
/** Any Fastify instance, whatever its server, logger and type provider. */
export type AnyFastify<S extends RawServerBase = RawServerBase, L extends FastifyBaseLogger = FastifyBaseLogger, P extends FastifyTypeProvider = FastifyTypeProvider> =
  FastifyInstance<S, RawRequestDefaultExpression<S>, RawReplyDefaultExpression<S>, L, P>;

export function fastifyTelemetry(
  telemetry: Telemetry,
): <S extends RawServerBase, L extends FastifyBaseLogger, P extends FastifyTypeProvider>(app: AnyFastify<S, L, P>) => void {
  const finish = (request: FastifyRequest, status: number): void => {
    const state = inFlight.get(request);
    if (state === undefined || state.done) return;
    state.done = true;
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    telemetry.metrics.observeHttp(route, request.method, status, (performance.now() - state.started) / 1000);
    state.span.setAttributes({ "http.status_code": status, "http.response.status_code": status });
    // Server spans mark only 5xx as errors: a 4xx is the client's fault.
    if (status >= 500) state.span.setStatus({ code: SpanStatusCode.ERROR });
    state.span.end();
  };

  return (app) => {
    // Already instrumented here or by a parent context: a second set of hooks would trace every request twice.
    if (app.hasRequestDecorator("traceMetadata")) return;
    app.decorateRequest("traceMetadata", null as unknown as Metadata);

    app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      const incoming: Metadata = {};
      const parent = header(request, "traceparent");
      const traceState = header(request, "tracestate");
      if (parent !== undefined) incoming.traceparent = parent;
      if (traceState !== undefined) incoming.tracestate = traceState;
      const span = telemetry.tracer.startSpan(
        `HTTP ${request.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: { "http.request.method": request.method, "http.route": route, "url.path": request.url.split("?", 1)[0] ?? "/" },
        },
        telemetry.extract(incoming),
      );
      inFlight.set(request, { span, started: performance.now(), done: false });
      request.traceMetadata = telemetry.withSpan({}, span);
      // onResponse does not run when the client hangs up first; close always fires.
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) finish(request, CLIENT_CLOSED_STATUS);
      });
    });

    app.addHook("onError", async (request: FastifyRequest, _reply: FastifyReply, error: Error) => {
      const span = inFlight.get(request)?.span;
      if (span === undefined) return;
      const failure = FlotillaError.from(error);
      span.recordException(error);
      span.setAttribute("flotilla.error_code", failure.code);
    });

    app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
      finish(request, reply.statusCode);
    });
  };
}
