import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { defaultGatewayConfig } from "../config.ts";
import { newEvent, request, startSecured } from "../../test/support/secured-gateway.ts";
import { edge } from "./edge.ts";
import { clientIpOf } from "./edge-client-ip.ts";

describe("client IP", () => {
  const trusted = new Set(["10.0.0.1", "10.0.0.2"]);
  test("the peer address unless the peer is a trusted proxy", () => {
    assert.equal(clientIpOf("::ffff:198.51.100.7", "203.0.113.1", trusted), "198.51.100.7");
    assert.equal(clientIpOf("10.0.0.1", undefined, trusted), "10.0.0.1");
  });
  test("X-Forwarded-For right to left, skipping trusted proxies; forged entries on the left are ignored", () => {
    assert.equal(clientIpOf("10.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.2", trusted), "203.0.113.9");
    assert.equal(clientIpOf("10.0.0.1", ["1.1.1.1", "203.0.113.9"], trusted), "203.0.113.9");
    assert.equal(clientIpOf("10.0.0.1", "10.0.0.2", trusted), "10.0.0.2");
    assert.equal(clientIpOf("10.0.0.1", "203.0.113.9, not-an-ip", trusted), "10.0.0.1");
    assert.equal(clientIpOf("10.0.0.1", "2001:db8::1", trusted), "2001:db8::1");
  });
});

describe("edge over HTTP", () => {
  test("X-Forwarded-For is believed only from a configured proxy", async () => {
    {
      await using gw = await startSecured();
      await request(gw.base, "/v1/catalog/events", { headers: { "x-forwarded-for": "203.0.113.9" } });
      assert.equal(gw.catalog.calls[0]?.options.metadata["x-client-ip"], "127.0.0.1");
    }
    await using gw = await startSecured({ config: { network: { trustedProxies: ["127.0.0.1"] } } });
    await request(gw.base, "/v1/catalog/events", { headers: { "x-forwarded-for": "198.51.100.1, 203.0.113.9" } });
    assert.equal(gw.catalog.calls[0]?.options.metadata["x-client-ip"], "203.0.113.9");
  });

  test("security headers fit for an API; HSTS configurable", async () => {
    {
      await using gw = await startSecured();
      const res = await request(gw.base, "/v1/catalog/events");
      assert.equal(res.headers.get("content-security-policy"), "default-src 'none';frame-ancestors 'none'");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assert.equal(res.headers.get("referrer-policy"), "no-referrer");
      assert.equal(res.headers.get("strict-transport-security"), "max-age=15552000; includeSubDomains");
      // The rest of helmet's set (worked out once at start, the same on every response).
      for (const [name, value] of Object.entries({
        "cross-origin-resource-policy": "same-origin",
        "origin-agent-cluster": "?1",
        "x-dns-prefetch-control": "off",
        "x-download-options": "noopen",
        "x-permitted-cross-domain-policies": "none",
        "x-xss-protection": "0",
      })) {
        assert.equal(res.headers.get(name), value, name);
      }
      // Errors carry them too.
      const denied = await request(gw.base, "/v1/catalog/events", { method: "POST" });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get("x-content-type-options"), "nosniff");
    }
    await using gw = await startSecured({ config: { securityHeaders: { enabled: true, hstsMaxAgeSec: 0 } } });
    assert.equal((await request(gw.base, "/v1/catalog/events")).headers.get("strict-transport-security"), null);
  });

  test("CORS: allowed origins get the headers and preflights; others get none", async () => {
    await using gw = await startSecured({ config: { cors: { origins: ["https://app.example.com"], credentials: true, maxAgeSec: 300 } } });
    const ok = await request(gw.base, "/v1/catalog/events", { headers: { origin: "https://app.example.com" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
    const exposed = ok.headers.get("access-control-expose-headers") ?? "";
    for (const header of ["x-request-id", "etag", "idempotent-replayed", "x-cache", "ratelimit-remaining"]) assert.match(exposed, new RegExp(`\\b${header}\\b`));
    assert.match(ok.headers.get("vary") ?? "", /Origin/);

    const other = await request(gw.base, "/v1/catalog/events", { headers: { origin: "https://evil.example" } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get("access-control-allow-origin"), null);

    // A preflight needs no token (browsers send none), and never reaches the service.
    const preflight = await request(gw.base, "/v1/catalog/events", {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, idempotency-key" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(preflight.headers.get("access-control-allow-methods"), "GET, POST, OPTIONS");
    assert.equal(preflight.headers.get("access-control-allow-headers"), "authorization, content-type, idempotency-key");
    assert.equal(preflight.headers.get("access-control-max-age"), "300");
    const refused = await request(gw.base, "/v1/catalog/events/evt_1", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
    assert.equal(refused.status, 204);
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
    assert.equal(gw.catalog.calls.length, 2);

    // No catch-all OPTIONS route: unknown paths stay 404, and 405 lists OPTIONS.
    const missing = await request(gw.base, "/v1/nowhere", { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "GET" } });
    assert.equal(missing.status, 404);
    const wrongVerb = await request(gw.base, "/v1/catalog/events", { method: "DELETE" });
    assert.equal(wrongVerb.status, 405);
    assert.equal(wrongVerb.headers.get("allow"), "GET, HEAD, OPTIONS, POST");
  });

  test("CORS off (no origins): no CORS headers at all", async () => {
    await using gw = await startSecured();
    const res = await request(gw.base, "/v1/catalog/events", { headers: { origin: "https://app.example.com" } });
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    assert.equal((await request(gw.base, "/v1/catalog/events", { method: "OPTIONS" })).status, 405);
  });

  test("`*` with credentials is refused at start", () => {
    const c = defaultGatewayConfig;
    assert.throws(() => edge({ cors: { origins: ["*"], credentials: true, maxAgeSec: 1 }, securityHeaders: c.securityHeaders, trustedProxies: [] }), /cannot be combined/);
  });

  test("compression by Accept-Encoding above the threshold", async () => {
    await using gw = await startSecured({ config: { compression: { enabled: true, thresholdBytes: 16 } } });
    const { status, headers, body } = await new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${gw.base}/v1/catalog/events`, { headers: { "accept-encoding": "gzip" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 200);
    assert.equal(headers["content-encoding"], "gzip");
    const json = JSON.parse(gunzipSync(body).toString()) as { events: unknown[] };
    assert.equal(json.events.length, 3);
  });

  test("payload limit: 413 problem (also for an authenticated caller)", async () => {
    await using gw = await startSecured({ bodyLimit: 2048 });
    const res = await request(gw.base, "/v1/catalog/events", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await gw.token()}` },
      body: JSON.stringify({ ...newEvent, title: "x".repeat(4096) }),
    });
    assert.equal(res.status, 413);
    assert.equal(res.body?.code, "GW_ERR_PAYLOAD_TOO_LARGE");
    assert.equal(gw.catalog.calls.length, 0);
  });
});
