import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { type BoundParams, FORM_TOKEN_TTL_MS, formTokens } from "./form-token.ts";

const params: BoundParams = {
  response_type: "code",
  client_id: "flotilla-mobile",
  redirect_uri: "http://127.0.0.1/callback",
  scope: "openid email",
  state: "st-1",
  code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  code_challenge_method: "S256",
  nonce: "n-1",
};

describe("form tokens", () => {
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const key = randomBytes(32);
  const forms = formTokens({ key, now: () => new Date(clock) });

  test("a token is good for the parameters it was issued for, until it expires", () => {
    const token = forms.issue(params);
    assert.match(token, /^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(forms.check(token, params), "ok");
    clock += FORM_TOKEN_TTL_MS - 1_000;
    assert.equal(forms.check(token, params), "ok");
    clock += 1_000;
    assert.equal(forms.check(token, params), "expired");
  });

  test("any other parameter value is a mismatch, including a value moved to its neighbour", () => {
    const token = forms.issue(params);
    for (const name of Object.keys(params) as (keyof BoundParams)[]) {
      assert.equal(forms.check(token, { ...params, [name]: `${params[name]}x` }), "mismatch", name);
    }
    const shifted = forms.issue({ ...params, state: "a", nonce: "b" });
    assert.equal(forms.check(shifted, { ...params, state: "", nonce: "ab" }), "mismatch");
  });

  test("another key's token, an altered expiry, a missing or malformed token are refused", () => {
    const token = forms.issue(params);
    const other = formTokens({ key: randomBytes(32), now: () => new Date(clock) });
    assert.equal(other.check(token, params), "mismatch");
    const [, expires, mac] = token.split(".");
    assert.equal(forms.check(`v1.${Number(expires) + 3600}.${mac}`, params), "mismatch");
    assert.equal(forms.check("", params), "missing");
    for (const bad of ["v1", "v2.1.abc", `v1.${expires}.${mac}=`, `v1.-1.${mac}`, token.slice(0, -1)]) assert.equal(forms.check(bad, params), "malformed", bad);
  });
});
