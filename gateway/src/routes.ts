import type { Registry } from "@bufbuild/protobuf";
import { FlotillaError } from "@flotilla/kit";
import type { FastifyInstance } from "fastify";
import type { Binding } from "./bindings.ts";
import { callUpstream } from "./call.ts";
import { bodyFor, httpOptionOf, knownQuery } from "./form-body.ts";
import { rawResponseField, rawResponseOf, sendRaw } from "./http-body.ts";
import { decodeRequest, encodeResponse, type HttpInput } from "./transcode.ts";
import type { Invoke } from "./types.ts";

export interface ApiRouteOptions {
  readonly invoke: Invoke;
  readonly timeoutMs: number;
  readonly registry: Registry;
}

/** One Fastify route per binding; its metadata rides on `config.flotilla` for per-route plugins. */
export function registerApiRoutes(api: FastifyInstance, bindings: readonly Binding[], options: ApiRouteOptions): void {
  for (const binding of bindings) {
    const { meta } = binding;
    // `(flotilla.options.v1.http)`: form bodies, unknown parameters ignored (RFC 6749 3.1), no-store, raw responses.
    const http = httpOptionOf(meta.method);
    const rawField = rawResponseField(meta.method);
    api.route({
      method: meta.verb,
      url: binding.template.fastifyUrl,
      config: { flotilla: meta },
      // Not async: the reply is written from the call's callback, so the route
      // costs no promise of its own (bench/gateway). Fastify sends what a
      // synchronous throw or `reply.send(error)` carries to the error handler.
      handler: (request, reply) => {
        const input: HttpInput = {
          params: request.params as HttpInput["params"],
          query: http === undefined ? (request.query as HttpInput["query"]) : knownQuery(meta.method.input, request.query as HttpInput["query"]),
          body: bodyFor(request.body, meta.method, http),
        };
        const message = decodeRequest(binding, input, options.registry);
        callUpstream(meta, message, { invoke: options.invoke, timeoutMs: options.timeoutMs, metadata: request.callMetadata, reply }, (error, output) => {
          if (error !== undefined) {
            reply.send(error);
            return;
          }
          try {
            if (http?.noStore) reply.header("cache-control", "no-store").header("pragma", "no-cache");
            const raw = rawResponseOf(rawField, output!);
            if (raw !== undefined) {
              sendRaw(reply, raw);
              return;
            }
            reply.type("application/json; charset=utf-8").send(encodeResponse(meta.method, output!, options.registry));
          } catch (failure) {
            if (!reply.sent) reply.send(failure instanceof Error ? failure : FlotillaError.from(failure));
          }
        });
      },
    });
  }
}
