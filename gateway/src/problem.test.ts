import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FlotillaError, kitErrors } from "@flotilla/kit";
import { gatewayErrors } from "./errors.ts";
import { gatewayErrorFrom, problemOf } from "./problem.ts";

describe("problemOf", () => {
  test("a gateway error takes its status and title from the table", () => {
    const { status, body } = problemOf(gatewayErrors.create("GW_ERR_UNSUPPORTED_MEDIA_TYPE", "send JSON"), "req-1");
    assert.equal(status, 415);
    assert.deepEqual(body, {
      type: "/problems/gw-err-unsupported-media-type",
      title: "Unsupported media type",
      status: 415,
      detail: "send JSON",
      instance: "req-1",
      code: "GW_ERR_UNSUPPORTED_MEDIA_TYPE",
    });
  });

  test("a service error maps its RPC code to the HTTP status and keeps its violations", () => {
    const error = kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "bad event", {
      violations: [{ field: "title", message: "must not be empty", rule: "string.min_len" }],
    });
    const { status, body } = problemOf(error, "r");
    assert.equal(status, 400);
    assert.equal(body.title, "Bad Request");
    assert.equal(body.code, "KIT_ERR_INVALID_ARGUMENT");
    assert.deepEqual(body.violations, [{ field: "title", message: "must not be empty" }]);
  });

  test("internal errors from services keep their details to the log", () => {
    const error = new FlotillaError({ code: "CATALOG_ERR_DB", rpc: "internal", message: "relation events at 10.0.0.7 failed", violations: [{ field: "x", message: "secret" }] });
    const { status, body } = problemOf(error, "r");
    assert.equal(status, 500);
    assert.equal(body.detail, "internal error");
    assert.equal(body.violations, undefined);
  });

  test("a retryable 503 says when to retry", () => {
    assert.equal(problemOf(kitErrors.create("KIT_ERR_UNAVAILABLE", "down"), "r").headers["retry-after"], "1");
    assert.equal(problemOf(kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "x"), "r").headers["retry-after"], undefined);
  });
});

describe("gatewayErrorFrom", () => {
  const fastifyError = (code: string, statusCode: number) => Object.assign(new Error(code), { code, statusCode });

  test("maps the Fastify errors a client can cause", () => {
    assert.equal(gatewayErrorFrom(fastifyError("FST_ERR_CTP_BODY_TOO_LARGE", 413), 1024).code, "GW_ERR_PAYLOAD_TOO_LARGE");
    assert.match(gatewayErrorFrom(fastifyError("FST_ERR_CTP_BODY_TOO_LARGE", 413), 1024).message, /1024 bytes/);
    assert.equal(gatewayErrorFrom(fastifyError("FST_ERR_CTP_INVALID_MEDIA_TYPE", 415)).code, "GW_ERR_UNSUPPORTED_MEDIA_TYPE");
    assert.equal(gatewayErrorFrom(fastifyError("FST_ERR_CTP_EMPTY_JSON_BODY", 400)).code, "GW_ERR_MALFORMED_JSON");
    assert.equal(gatewayErrorFrom(fastifyError("FST_ERR_CTP_INVALID_CONTENT_LENGTH", 400)).code, "GW_ERR_BAD_REQUEST");
    assert.equal(gatewayErrorFrom(new SyntaxError("Unexpected token")).code, "GW_ERR_MALFORMED_JSON");
    assert.equal(gatewayErrorFrom(fastifyError("FST_ERR_SOMETHING_NEW", 422)).code, "GW_ERR_BAD_REQUEST");
  });

  test("anything else is a gateway bug: 500 with no detail, cause kept", () => {
    const bug = new TypeError("cannot read properties of undefined");
    const error = gatewayErrorFrom(bug);
    assert.equal(error.code, "GW_ERR_INTERNAL");
    assert.equal(error.cause, bug);
    assert.equal(problemOf(error, "r").body.detail, "internal error");
    assert.equal(gatewayErrorFrom("a string").code, "GW_ERR_INTERNAL");
  });

  test("passes FlotillaErrors through", () => {
    const error = kitErrors.create("KIT_ERR_UNAVAILABLE", "x");
    assert.equal(gatewayErrorFrom(error), error);
  });
});
