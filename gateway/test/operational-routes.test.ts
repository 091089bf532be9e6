// Health, the OpenAPI document, the docs page, access logs, per-route plugins
// and deadlines, over real HTTP.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import { FlotillaError } from "@flotilla/kit";
import type { FastifyInstance } from "fastify";
import { createGateway, type GatewayOptions, gatewayErrors } from "../src/index.ts";
import { fakeCatalog } from "./support/fake-catalog.ts";
import { openApiProblems } from "./support/openapi-structure.ts";
import { type LogLine, recordingLogger } from "./support/recording-logger.ts";
import { serviceWithRule } from "./support/test-contract.ts";

/** Starts a gateway on a free port for one test; `using` closes it. */
async function start(options: Partial<GatewayOptions> = {}) {
  const catalog = fakeCatalog();
  const app: FastifyInstance = createGateway({ services: [catalogV1.CatalogService], invoke: catalog.invoke, logger: false, ...options });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, base, catalog, [Symbol.asyncDispose]: () => app.close() };
}

describe("health", () => {
  test("/livez is always 200; /readyz follows ready()", async () => {
    let ready: boolean | Error = false;
    await using gw = await start({
      ready: async () => {
        if (ready instanceof Error) throw ready;
        return ready;
      },
    });
    const live = await fetch(`${gw.base}/livez`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: "ok" });

    const notReady = await fetch(`${gw.base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(notReady.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(((await notReady.json()) as { code: string }).code, "GW_ERR_NOT_READY");
    assert.equal(notReady.headers.get("retry-after"), "1");

    ready = true;
    const isReady = await fetch(`${gw.base}/readyz`);
    assert.equal(isReady.status, 200);
    assert.deepEqual(await isReady.json(), { status: "ready" });

    ready = new Error("database down");
    assert.equal((await fetch(`${gw.base}/readyz`)).status, 503);
    assert.equal((await fetch(`${gw.base}/livez`)).status, 200);
  });
});

describe("/openapi.json", () => {
  test("is a structurally valid OpenAPI 3.1 document listing the catalog routes", async () => {
    await using gw = await start({ info: { title: "Catalog", version: "2.0.0" } });
    const res = await fetch(`${gw.base}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const doc = (await res.json()) as { openapi: string; info: unknown; paths: Record<string, Record<string, { operationId: string }>> };
    assert.deepEqual(openApiProblems(doc), []);
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(doc.info, { title: "Catalog", version: "2.0.0" });
    assert.equal(doc.paths["/v1/catalog/events"]?.get?.operationId, "CatalogService_ListEvents");
    assert.equal(doc.paths["/v1/catalog/events"]?.post?.operationId, "CatalogService_CreateEvent");
    assert.equal(doc.paths["/v1/catalog/events/{event_id}"]?.get?.operationId, "CatalogService_GetEvent");
  });
});

describe("/docs", () => {
  test("renders from local assets only, each served with its content type", async () => {
    await using gw = await start({ info: { title: "Flotilla <dev>", version: "1" } });
    const res = await fetch(`${gw.base}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:|\/\/[a-z]/i, "no absolute or protocol-relative URL");
    assert.match(html, /<title>Flotilla &#60;dev&#62; — API docs<\/title>/);
    assert.doesNotMatch(html, /<script>/, "no inline script (the CSP forbids it)");

    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    const expected: Record<string, RegExp> = {
      "/docs/assets/swagger-ui.css": /^text\/css/,
      "/docs/assets/favicon-32x32.png": /^image\/png/,
      "/docs/assets/swagger-ui-bundle.js": /^text\/javascript/,
      "/docs/assets/swagger-ui-standalone-preset.js": /^text\/javascript/,
      "/docs/assets/init.js": /^text\/javascript/,
    };
    assert.deepEqual([...urls].sort(), Object.keys(expected).sort());
    for (const url of urls) {
      const asset = await fetch(`${gw.base}${url}`);
      assert.equal(asset.status, 200, url);
      assert.match(asset.headers.get("content-type") ?? "", expected[url]!, url);
      assert.match(asset.headers.get("cache-control") ?? "", /max-age=\d+/, url);
      const body = Buffer.from(await asset.arrayBuffer());
      assert.ok(body.length > 0, url);
      const again = await fetch(`${gw.base}${url}`, { headers: { "if-none-match": asset.headers.get("etag") ?? "" } });
      assert.equal(again.status, 304, url);
      await again.arrayBuffer();
    }
    const init = await (await fetch(`${gw.base}/docs/assets/init.js`)).text();
    assert.match(init, /url: "\/openapi\.json"/);
    assert.match(init, /validatorUrl: null/);
    const bundle = await (await fetch(`${gw.base}/docs/assets/swagger-ui-bundle.js`)).text();
    assert.match(bundle, /SwaggerUIBundle/);
  });
});

describe("access log", () => {
  test("one line per request: method, route, status, ms, request id", async () => {
    const logger = recordingLogger();
    await using gw = await start({ logger });
    await (await fetch(`${gw.base}/v1/catalog/events/evt_1`, { headers: { "x-request-id": "req-a" } })).arrayBuffer();
    await (await fetch(`${gw.base}/nowhere`, { headers: { "x-request-id": "req-b" } })).arrayBuffer();
    const access = logger.lines.filter((l) => l.msg === "access");
    assert.equal(access.length, 2, JSON.stringify(logger.lines));
    const [a, b] = access as [LogLine, LogLine];
    assert.deepEqual(
      { method: a.method, route: a.route, status: a.status, requestId: a.requestId },
      { method: "GET", route: "/v1/catalog/events/:p0", status: 200, requestId: "req-a" },
    );
    assert.equal(typeof a.ms, "number");
    assert.deepEqual({ route: b.route, status: b.status, requestId: b.requestId }, { route: null, status: 404, requestId: "req-b" });
    assert.ok(!logger.lines.some((l) => l.msg === "incoming request" || l.msg === "request completed"));
  });

  test("can be turned off", async () => {
    const logger = recordingLogger();
    await using gw = await start({ logger, accessLog: false });
    await (await fetch(`${gw.base}/livez`)).arrayBuffer();
    assert.equal(logger.lines.filter((l) => l.msg === "access").length, 0);
  });
});

describe("per-route plugins", () => {
  test("see the route metadata and apply to API routes only", async () => {
    const seen: string[] = [];
    await using gw = await start({
      plugins: [
        (api) => {
          api.addHook("preHandler", async (request) => {
            const meta = request.routeOptions.config.flotilla;
            assert.ok(meta !== undefined, "only API routes reach this hook");
            seen.push(meta.operationId);
            if (!meta.access.public && request.headers.authorization === undefined) {
              throw new FlotillaError({ code: "AUTH_ERR_MISSING_TOKEN", rpc: "unauthenticated", message: "a bearer token is required" });
            }
            request.callMetadata["x-subject"] = "user-1";
          });
        },
      ],
    });
    assert.equal((await fetch(`${gw.base}/livez`)).status, 200);
    assert.equal((await fetch(`${gw.base}/v1/catalog/events`)).status, 200);
    assert.equal(gw.catalog.calls[0]?.options.metadata["x-subject"], "user-1");
    const denied = await fetch(`${gw.base}/v1/catalog/events`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(denied.status, 401);
    assert.equal(((await denied.json()) as { code: string }).code, "AUTH_ERR_MISSING_TOKEN");
    assert.deepEqual(seen, ["CatalogService_ListEvents", "CatalogService_CreateEvent"]);
  });

  test("a bug in a plugin is a 500 problem without internals, logged with its cause", async () => {
    const logger = recordingLogger();
    await using gw = await start({
      logger,
      plugins: [
        (api) => {
          api.addHook("preHandler", async () => {
            throw new TypeError("Cannot read properties of undefined (reading 'secretKey')");
          });
        },
      ],
    });
    const res = await fetch(`${gw.base}/v1/catalog/events`);
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.doesNotMatch(text, /secretKey|TypeError|\.ts:/);
    assert.equal((JSON.parse(text) as { code: string; detail: string }).code, "GW_ERR_INTERNAL");
    assert.ok(logger.lines.some((l) => l.level === "error" && String(l.cause).includes("secretKey")));
  });
});

describe("deadlines and cancellation", () => {
  test("a service that does not answer in time is a 504, and its signal is aborted", async () => {
    let signal: AbortSignal | undefined;
    let calledAt = 0;
    await using gw = await start({ requestTimeoutMs: 100 });
    gw.catalog.override((_method, options) => {
      signal = options.signal;
      calledAt = Date.now();
      return new Promise(() => {}); // never settles and ignores the signal
    });
    const res = await fetch(`${gw.base}/v1/catalog/events`);
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as { code: string }).code, "GW_ERR_TIMEOUT");
    assert.equal(signal?.aborted, true);
    const deadline = gw.catalog.calls[0]!.options.deadline!;
    assert.ok(deadline - calledAt > 50 && deadline - calledAt <= 100, `deadline ${deadline - calledAt} ms after the call`);
  });

  test("a client that hangs up aborts the call's signal", async () => {
    // A long timeout, so only the hang-up can abort the call within the test.
    await using gw = await start({ requestTimeoutMs: 60_000 });
    const { promise: called, resolve: onCall } = Promise.withResolvers<AbortSignal>();
    gw.catalog.override((_method, options) => {
      onCall(options.signal!);
      return new Promise((_resolve, reject) => options.signal!.addEventListener("abort", () => reject(options.signal!.reason)));
    });
    const client = new AbortController();
    const request = fetch(`${gw.base}/v1/catalog/events`, { signal: client.signal }).catch((error: unknown) => error);
    const signal = await called;
    client.abort();
    await request;
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve())));
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).name, "AbortError");
  });
});

describe("start-up", () => {
  test("a contract the gateway cannot route stops createGateway with the method's name", () => {
    const bad = serviceWithRule({ pattern: { case: "get", value: "/v1/{missing}" } });
    assert.throws(
      () => createGateway({ services: [bad], invoke: fakeCatalog().invoke, logger: false }),
      (error) => gatewayErrors.is(error, "GW_ERR_BAD_ROUTE") && /OneService\.Call.*missing/.test(error.message),
    );
  });
});
