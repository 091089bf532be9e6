import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { googleRpc } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { decodeConnectError, encodeConnectError, statusOfError } from "./connect-error.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("Connect error codec", () => {
  it("writes the Connect JSON shape with ErrorInfo and BadRequest details, unpadded base64", () => {
    const error = new FlotillaError({
      code: "CATALOG_ERR_BAD",
      rpc: "invalid_argument",
      message: "bad input",
      violations: [{ field: "title", message: "must not be empty", rule: "string.min_len" }],
    });
    assert.equal(statusOfError(error), 400);
    const json = JSON.parse(encodeConnectError(error));
    assert.equal(json.code, "invalid_argument");
    assert.equal(json.message, "bad input");
    assert.deepEqual(
      json.details.map((d: { type: string }) => d.type),
      ["google.rpc.ErrorInfo", "google.rpc.BadRequest"],
    );
    for (const d of json.details) assert.doesNotMatch(d.value, /=/);
    const info = fromBinary(googleRpc.ErrorInfoSchema, Buffer.from(json.details[0].value, "base64"));
    assert.equal(info.reason, "CATALOG_ERR_BAD");
    assert.equal(info.domain, "flotilla");
    assert.deepEqual(info.metadata, { retryable: "false" });
    const bad = fromBinary(googleRpc.BadRequestSchema, Buffer.from(json.details[1].value, "base64"));
    assert.equal(bad.fieldViolations[0]?.field, "title");
    assert.equal(bad.fieldViolations[0]?.reason, "string.min_len");
  });

  it("round-trips code, rpc code, retryable flag and violations", () => {
    const original = new FlotillaError({
      code: "BOOKING_ERR_SOLD_OUT",
      rpc: "failed_precondition",
      message: "sold out",
      retryable: true,
      violations: [
        { field: "seats[0]", message: "taken", rule: "seat.free" },
        { field: "event_id", message: "unknown" },
      ],
    });
    const decoded = decodeConnectError(statusOfError(original), bytes(encodeConnectError(original)));
    assert.equal(decoded.code, original.code);
    assert.equal(decoded.rpc, original.rpc);
    assert.equal(decoded.retryable, true);
    assert.equal(decoded.message, "sold out");
    assert.deepEqual(decoded.violations, original.violations);
  });

  it("maps an error from another Connect server by its code", () => {
    const foreign = decodeConnectError(503, bytes(JSON.stringify({ code: "unavailable", message: "overloaded" })));
    assert.equal(foreign.code, "KIT_ERR_UNAVAILABLE");
    assert.equal(foreign.retryable, true);
    const other = decodeConnectError(409, bytes(JSON.stringify({ code: "already_exists", message: "dup" })));
    assert.equal(other.code, "KIT_ERR_UPSTREAM");
    assert.equal(other.rpc, "already_exists");
    assert.equal(other.retryable, false);
  });

  it("maps a non-Connect body by HTTP status", () => {
    const proxy = decodeConnectError(502, bytes("<html>Bad Gateway</html>"));
    assert.equal(proxy.rpc, "unavailable");
    assert.equal(proxy.code, "KIT_ERR_UNAVAILABLE");
    assert.equal(decodeConnectError(404, bytes("")).rpc, "unimplemented");
    assert.equal(decodeConnectError(418, bytes("teapot")).rpc, "unknown");
  });

  it("ignores details it cannot decode", () => {
    const body = JSON.stringify({ code: "internal", message: "x", details: [{ type: "google.rpc.ErrorInfo", value: "!!notbase64-proto" }, 42] });
    const decoded = decodeConnectError(500, bytes(body));
    assert.equal(decoded.rpc, "internal");
    assert.equal(decoded.message, "x");
  });
});
