// The traffic sections of the gateway config: defaults, a full example, and
// bad values named by their path or variable.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultGatewayConfig, HOT_SECTIONS, loadGatewayConfig } from "../src/config.ts";
import { defaultRateLimits } from "../src/plugins/rate-limit.ts";

const fileWith = (content: unknown): string => {
  const file = join(mkdtempSync(join(tmpdir(), "flotilla-gw-config-")), "gateway.json");
  writeFileSync(file, JSON.stringify(content));
  return file;
};

test("the defaults: in-process state, the plugins' own default limits, catalog events invalidate catalog routes", () => {
  assert.equal(defaultGatewayConfig.redis.url, "");
  assert.deepEqual(defaultGatewayConfig.rateLimits.classes, defaultRateLimits.classes);
  assert.deepEqual(defaultGatewayConfig.responseCache.invalidateOn, { "catalog.event_published.v1": ["catalog"] });
  assert.equal(defaultGatewayConfig.idempotency.ttlSec, 86_400);
  for (const section of ["rateLimits", "responseCache", "breaker", "canary"] as const) assert.ok(HOT_SECTIONS.includes(section), section);
});

test("a full traffic config is read as written", () => {
  const config = loadGatewayConfig({
    env: {},
    file: fileWith({
      redis: { url: "redis://127.0.0.1:6379/2" },
      rateLimits: { classes: { auth: { ip: { limit: 10, windowSec: 60 }, user: { limit: 0, windowSec: 60 }, app: { limit: 0, windowSec: 60 } } }, routes: { IdentityService_Token: "auth" } },
      idempotency: { ttlSec: 3600, lockSec: 30 },
      breaker: { retryAfterSec: 10, fallbacks: { CatalogService_ListEvents: { body: { events: [] } } } },
      canary: { services: { catalog: { "1.4.0": 90, "1.5.0": 10 } }, header: false },
    }),
  });
  assert.equal(config.redis.url, "redis://127.0.0.1:6379/2");
  assert.equal(config.rateLimits.routes.IdentityService_Token, "auth");
  assert.equal(config.rateLimits.classes.auth?.ip.limit, 10);
  assert.deepEqual(config.breaker.fallbacks.CatalogService_ListEvents, { status: 200, body: { events: [] } });
  assert.deepEqual(config.canary.services.catalog, { "1.4.0": 90, "1.5.0": 10 });
  assert.equal(config.canary.header, false);
});

test("bad values are refused with their path or variable", () => {
  assert.throws(
    () => loadGatewayConfig({ env: {}, file: fileWith({ rateLimits: { classes: { read: { user: { limit: -1, windowSec: 0 } } } }, canary: { services: { catalog: { "2.0": "ten" } } } }) }),
    (error: Error) =>
      /rateLimits\.classes\.read\.user\.limit/.test(error.message) && /rateLimits\.classes\.read\.user\.windowSec/.test(error.message) && /canary\.services\.catalog\.2\.0/.test(error.message),
  );
  assert.throws(() => loadGatewayConfig({ env: { FLOTILLA_GATEWAY_REDIS_URL: "http://nope" } }), /FLOTILLA_GATEWAY_REDIS_URL/);
});
