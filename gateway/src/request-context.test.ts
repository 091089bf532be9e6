import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import type { FastifyRequest } from "fastify";
import { callMetadataOf, requestIdOf, USER_AGENT_MAX } from "./request-context.ts";

const raw = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("requestIdOf", () => {
  test("keeps a client id of 1–128 safe characters", () => {
    assert.equal(requestIdOf(raw({ "x-request-id": "abc.DEF_1-2" })), "abc.DEF_1-2");
    assert.equal(requestIdOf(raw({ "x-request-id": "x".repeat(128) })), "x".repeat(128));
  });

  test("replaces a missing, unsafe or too long id with a fresh UUID", () => {
    for (const headers of [{} as Record<string, string>, { "x-request-id": "" }, { "x-request-id": "a b" }, { "x-request-id": "<script>" }, { "x-request-id": "x".repeat(129) }]) {
      assert.match(requestIdOf(raw(headers)), UUID);
    }
    assert.notEqual(requestIdOf(raw({})), requestIdOf(raw({})));
  });
});

describe("callMetadataOf", () => {
  const request = (headers: Record<string, string>) => ({ id: "req-1", headers }) as unknown as FastifyRequest;
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  test("carries the request id and a well-formed trace context", () => {
    assert.deepEqual(callMetadataOf(request({ traceparent, tracestate: "rojo=00f067aa0ba902b7" })), {
      "x-request-id": "req-1",
      traceparent,
      tracestate: "rojo=00f067aa0ba902b7",
    });
  });

  test("drops a malformed traceparent and the tracestate that goes with it", () => {
    assert.deepEqual(callMetadataOf(request({ traceparent: "garbage", tracestate: "a=b" })), { "x-request-id": "req-1" });
  });

  test("carries a well-formed origin and sec-fetch-site (login CSRF checks)", () => {
    for (const origin of ["https://app.example.com", "http://127.0.0.1:8080", "http://[::1]:3000", "null"]) {
      assert.equal(callMetadataOf(request({ origin })).origin, origin);
    }
    for (const site of ["cross-site", "same-origin", "same-site", "none"]) {
      assert.equal(callMetadataOf(request({ "sec-fetch-site": site }))["sec-fetch-site"], site);
    }
  });

  test("drops a malformed or oversized origin and an unknown sec-fetch-site", () => {
    for (const origin of ["", "https://a.example/path", "https://a.example:8080/", "javascript:alert(1)", "https://a b", `https://${"a".repeat(300)}.example`, "https://a.example:123456"]) {
      assert.equal(callMetadataOf(request({ origin })).origin, undefined, origin);
    }
    for (const site of ["", "Same-Origin", "cross-site, none", "x".repeat(100)]) {
      assert.equal(callMetadataOf(request({ "sec-fetch-site": site }))["sec-fetch-site"], undefined, site);
    }
  });

  test("carries the user agent, printable and cut to a bounded length", () => {
    assert.equal(callMetadataOf(request({ "user-agent": "Flotilla/1.0 (iPhone; iOS 18.1)" }))["user-agent"], "Flotilla/1.0 (iPhone; iOS 18.1)");
    const long = callMetadataOf(request({ "user-agent": "A".repeat(5000) }))["user-agent"]!;
    assert.equal(long, "A".repeat(USER_AGENT_MAX));
    assert.equal(callMetadataOf(request({ "user-agent": "tab\there caf\u00e9" }))["user-agent"], "tab?here caf?");
    assert.equal(callMetadataOf(request({ "user-agent": "" }))["user-agent"], undefined);
    assert.deepEqual(callMetadataOf(request({})), { "x-request-id": "req-1" });
  });
});
