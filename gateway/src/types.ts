import type { DescMessage, DescMethodUnary, DescService, MessageShape } from "@bufbuild/protobuf";
import type { optionsV1 } from "@flotilla/contracts";
import type { VerifiedToken } from "@flotilla/kit";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";

/**
 * How the gateway reaches a service. The gateway never knows about transports,
 * registries or instances: it hands a decoded request to this function and gets
 * the decoded response back. It must reject with a `FlotillaError`; anything
 * else is reported to the client as an upstream failure (502).
 */
export type Invoke = (
  service: DescService,
  method: DescMethodUnary,
  input: MessageShape<DescMessage>,
  options: { metadata: Record<string, string>; deadline?: number; signal?: AbortSignal },
) => Promise<MessageShape<DescMessage>>;

/** The HTTP verbs a `google.api.http` rule can bind (the `custom` pattern is not routed). */
export type HttpVerb = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * What the gateway knows about a generated route, kept on the route's config as
 * `config.flotilla`; per-route plugins (auth, rate limits, caching) read it
 * from `request.routeMeta`.
 */
export interface RouteMeta {
  readonly service: DescService;
  readonly method: DescMethodUnary;
  /** `<Service>_<Method>`, with `_<n>` for additional bindings; also the OpenAPI operationId. */
  readonly operationId: string;
  readonly verb: HttpVerb;
  /** The path template as written in the contract, e.g. `/v1/catalog/events/{event_id}`. */
  readonly template: string;
  /** `"*"`, a field name, or `""` when the request has no body. */
  readonly body: string;
  /** `(flotilla.options.v1.access)`; absent in the contract means authenticated, no permission. */
  readonly access: optionsV1.Access;
  /** `(flotilla.options.v1.cache)`, when the contract declares one. */
  readonly cache: optionsV1.Cache | undefined;
}

/**
 * Runs inside the scope of the generated API routes before they are added, so
 * the hooks it adds (`preHandler` for auth, `onSend` for caching, ...) apply to
 * every API route and to nothing else (not to /livez, /docs, ...).
 *
 *   const requireAuth: GatewayPlugin = (api) => {
 *     api.addHook("preHandler", async (request) => {
 *       if (request.routeMeta !== null && !request.routeMeta.access.public) await verify(request);
 *     });
 *   };
 */
export type GatewayPlugin = (api: FastifyInstance) => void | Promise<void>;

export interface GatewayOptions {
  /** The contracts to route; methods with `access.internal` are skipped. */
  readonly services: readonly DescService[];
  readonly invoke: Invoke;
  /** A pino logger, or `false` for none. Absent: Fastify's own pino logger at `info`. */
  readonly logger?: FastifyBaseLogger | false;
  /** One access-log line per request (default true); needs a logger. */
  readonly accessLog?: boolean;
  /** Largest accepted request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Time a client may take to send a whole request, headers and body (default 30 s); then 408 and close. */
  readonly requestReceiveTimeoutMs?: number;
  /** Time a call may take before the gateway answers 504 (default 15 s); also the call's deadline. */
  readonly requestTimeoutMs?: number;
  /** Backs `/readyz`; absent means always ready. */
  readonly ready?: () => boolean | Promise<boolean>;
  /** The OpenAPI document's `info` and the docs page title. */
  readonly info?: { readonly title: string; readonly version: string };
  /** Per-route concerns, run in order in the API routes' scope (see GatewayPlugin). */
  readonly plugins?: readonly GatewayPlugin[];
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Present on every route generated from a contract. */
    flotilla?: RouteMeta;
  }
  interface FastifyRequest {
    /**
     * The contract route's `config.flotilla`, set when the request arrives
     * (null on other routes): Fastify builds `request.routeOptions` anew on
     * every read, too dear for the several plugins that ask per request.
     */
    routeMeta: RouteMeta | null;
    /**
     * Metadata passed to the invoker: `x-request-id`, `traceparent`,
     * `tracestate`. Plugins may add entries (e.g. the authenticated subject).
     */
    callMetadata: Record<string, string>;
    /** Who the auth plugin verified (null before it ran, or without it). */
    auth: RequestAuth | null;
  }
}

/** The caller as the auth plugin verified it: a bearer token, an app key, both or neither (public routes). */
export interface RequestAuth {
  /** The token's subject (`sub`), when a token was verified. */
  readonly sub: string | undefined;
  readonly token: VerifiedToken | undefined;
  /** The app whose `X-Api-Key` the request carried. */
  readonly app: { readonly id: string; readonly platform: string } | undefined;
}
