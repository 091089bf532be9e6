import assert from "node:assert/strict";
import { test } from "node:test";
import { isRpcCode } from "@flotilla/kit";
import { gatewayErrors, gatewaySpecOf } from "./errors.ts";

test("every gateway error is documented, titled and has an HTTP error status", () => {
  const codes = Object.keys(gatewayErrors.table);
  assert.ok(codes.length >= 12);
  for (const code of codes) {
    const spec = gatewaySpecOf(code)!;
    assert.match(code, /^GW_ERR_[A-Z_]+$/);
    assert.ok(spec.doc.length > 10, code);
    assert.ok(spec.title.length > 0, code);
    assert.ok(spec.http >= 400 && spec.http <= 599, code);
    assert.ok(isRpcCode(spec.rpc), code);
  }
});

test("gatewaySpecOf knows only gateway codes", () => {
  assert.equal(gatewaySpecOf("KIT_ERR_INTERNAL"), undefined);
  assert.equal(gatewaySpecOf("toString"), undefined);
  assert.equal(gatewaySpecOf("GW_ERR_METHOD_NOT_ALLOWED")?.http, 405);
});
