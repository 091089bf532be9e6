import type { Registry } from "@bufbuild/protobuf";
import type { FastifyInstance } from "fastify";
import type { Binding } from "./bindings.ts";
import { callUpstream } from "./call.ts";
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
    api.route({
      method: meta.verb,
      url: binding.template.fastifyUrl,
      config: { flotilla: meta },
      handler: async (request, reply) => {
        const input: HttpInput = {
          params: request.params as HttpInput["params"],
          query: request.query as HttpInput["query"],
          body: request.body,
        };
        const message = decodeRequest(binding, input, options.registry);
        const output = await callUpstream(meta, message, {
          invoke: options.invoke,
          timeoutMs: options.timeoutMs,
          metadata: request.callMetadata,
          reply,
        });
        reply.type("application/json; charset=utf-8");
        return encodeResponse(meta.method, output, options.registry);
      },
    });
  }
}
