import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { AccessLog } from "./access-log.ts";
import { answerClientError } from "./client-errors.ts";
import { collectBindings } from "./bindings.ts";
import { registerDocsRoutes } from "./docs.ts";
import { gatewayErrors } from "./errors.ts";
import { addFormParser, clientAuthorizationOf, httpOptionOf } from "./form-body.ts";
import { registerHealthRoutes } from "./health.ts";
import { trackRoutes } from "./method-not-allowed.ts";
import { oauthErrorOf, wantsOAuthErrors } from "./oauth-errors.ts";
import { finishOversizedBody } from "./oversized-body.ts";
import { buildOpenApi, DEFAULT_INFO } from "./openapi.ts";
import { gatewayErrorFrom, PROBLEM_CONTENT_TYPE, problemOf } from "./problem.ts";
import { callMetadataOf, requestIdOf } from "./request-context.ts";
import { registerApiRoutes } from "./routes.ts";
import { typeRegistryOf } from "./type-registry.ts";
import type { GatewayOptions } from "./types.ts";

const MiB = 1024 * 1024;

/**
 * The gateway as a Fastify instance, not yet listening:
 *
 *   const app = createGateway({ services: allServices, invoke });
 *   await app.listen({ port: 8080, host: "0.0.0.0" });
 *
 * Throws GW_ERR_BAD_ROUTE at once when a contract's HTTP annotation cannot be
 * routed, so a bad contract stops the start rather than a request.
 */
export function createGateway(options: GatewayOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? MiB;
  const timeoutMs = options.requestTimeoutMs ?? 15_000;
  const info = options.info ?? DEFAULT_INFO;
  const bindings = collectBindings(options.services);
  const document = buildOpenApi({ services: options.services, info });
  const registry = typeRegistryOf(options.services);

  const serverOptions: FastifyServerOptions = {
    bodyLimit,
    requestIdHeader: false,
    genReqId: requestIdOf,
    logController: new AccessLog(options.accessLog ?? true),
    return503OnClosing: true,
    // Slow-client protection: the whole request (headers and body) must arrive in this time.
    requestTimeout: options.requestReceiveTimeoutMs ?? 30_000,
    clientErrorHandler: answerClientError,
    // Bad URL encodings reach here instead of Fastify's own JSON error.
    frameworkErrors: (error, request, reply) => {
      sendProblem(request, reply, error, bodyLimit);
    },
  };
  if (options.logger === undefined) serverOptions.logger = { level: "info" };
  else if (options.logger !== false) serverOptions.loggerInstance = options.logger;
  const app = fastify(serverOptions) as unknown as FastifyInstance;

  const allowedMethods = trackRoutes(app);
  app.decorateRequest("callMetadata", null as unknown as Record<string, string>);
  app.decorateRequest("routeMeta", null);
  // Callback style, like the other per-request hooks on the hot path: no promise per request.
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    request.callMetadata = callMetadataOf(request);
    // RFC 6749 2.3.1: on form (OAuth) routes, HTTP Basic is client authentication for the
    // service to check, not a bearer token: taken off the request before the auth plugin looks.
    const flotilla = request.routeOptions.config.flotilla ?? null;
    request.routeMeta = flotilla;
    const basic = flotilla === null ? undefined : clientAuthorizationOf(request.headers.authorization, httpOptionOf(flotilla.method));
    if (basic !== undefined) {
      request.callMetadata.authorization = basic;
      delete request.headers.authorization;
    }
    done();
  });

  // Only JSON bodies: Fastify's text/plain parser would hand a string to routes
  // that expect a message, and its JSON parser hides where the JSON breaks.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, async (_request: FastifyRequest, body: string | Buffer) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      throw gatewayErrors.create("GW_ERR_MALFORMED_JSON", "the body is empty but the content type is JSON; send {} for an empty message");
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw gatewayErrors.create("GW_ERR_MALFORMED_JSON", `the request body is not valid JSON: ${reason}`, { cause: error });
    }
  });

  // Form bodies, for the methods whose contract accepts them (OAuth endpoints); refused (415) elsewhere.
  addFormParser(app);

  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split("?", 1)[0]!;
    const allowed = allowedMethods(path);
    if (allowed.length > 0) {
      reply.header("allow", allowed.join(", "));
      throw gatewayErrors.create("GW_ERR_METHOD_NOT_ALLOWED", `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`);
    }
    throw gatewayErrors.create("GW_ERR_ROUTE_NOT_FOUND", `no route for ${request.method} ${path}`);
  });
  app.setErrorHandler(async (error, request, reply) => {
    const known = gatewayErrorFrom(error, bodyLimit);
    if (known.code === "GW_ERR_PAYLOAD_TOO_LARGE" && !(await finishOversizedBody(request.raw, bodyLimit))) reply.header("connection", "close");
    return sendProblem(request, reply, known, bodyLimit);
  });

  registerHealthRoutes(app, options.ready ?? (() => true));
  app.get("/openapi.json", async (_request, reply) => {
    reply.header("cache-control", "no-cache");
    return document;
  });
  registerDocsRoutes(app, info.title);

  // The API routes live in their own scope: plugins' hooks apply to them only.
  app.register(async (api) => {
    for (const plugin of options.plugins ?? []) await plugin(api);
    registerApiRoutes(api, bindings, { invoke: options.invoke, timeoutMs, registry });
  });
  return app;
}

function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown, bodyLimit: number): FastifyReply {
  const known = gatewayErrorFrom(error, bodyLimit);
  const method = request.routeMeta?.method;
  if (method !== undefined && wantsOAuthErrors(httpOptionOf(method))) {
    const oauth = oauthErrorOf(known);
    if (oauth.status >= 500) request.log.error({ err: known, cause: known.cause, code: known.code }, known.message);
    return reply.code(oauth.status).headers(oauth.headers).header("x-request-id", request.id).type("application/json; charset=utf-8").send(JSON.stringify(oauth.body));
  }
  const { status, headers, body } = problemOf(known, request.id);
  if (status >= 500) request.log.error({ err: known, cause: known.cause, code: known.code }, known.message);
  else request.log.debug({ code: known.code, detail: known.message }, "request rejected");
  return reply
    .code(status)
    .headers(headers)
    // Framework errors (a bad URL) skip the onRequest hook that sets it.
    .header("x-request-id", request.id)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(body));
}
