import assert from "node:assert/strict";
import { test } from "node:test";
import { blockAfter, grantScopes, hashSecret, newSecret, normaliseEmail, parseScope, redirectUriAllowed, THROTTLE, withQuery } from "./domain.ts";

test("emails are trimmed, NFKC-normalised and lower-cased", () => {
  assert.equal(normaliseEmail("  Ana.Silva@Example.COM "), "ana.silva@example.com");
  assert.equal(normaliseEmail("ａｎａ@example.com"), "ana@example.com");
});

test("opaque secrets are 256-bit, prefixed, and hashed deterministically", () => {
  const a = newSecret("rt");
  assert.match(a, /^rt_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, newSecret("rt"));
  assert.equal(hashSecret(a), hashSecret(a));
  assert.notEqual(hashSecret(a), a);
});

test("scopes: requested ones must all be allowed; none requested gives the client's set", () => {
  assert.deepEqual(parseScope(" openid  email openid "), ["openid", "email"]);
  assert.deepEqual(grantScopes("", ["openid", "email"]), { ok: true, scopes: ["openid", "email"] });
  assert.deepEqual(grantScopes("email", ["openid", "email"]), { ok: true, scopes: ["email"] });
  assert.equal(grantScopes("email admin", ["openid", "email"]).ok, false);
  assert.equal(grantScopes('bad"scope', ['bad"scope']).ok, false);
});

test("backoff: free attempts, then doubling from 1 s, capped at 15 min", () => {
  for (let i = 0; i < THROTTLE.freeAttempts; i += 1) assert.equal(blockAfter(i), 0);
  assert.equal(blockAfter(THROTTLE.freeAttempts), 1_000);
  assert.equal(blockAfter(THROTTLE.freeAttempts + 1), 2_000);
  assert.equal(blockAfter(THROTTLE.freeAttempts + 3), 8_000);
  assert.equal(blockAfter(1_000), THROTTLE.maxBlockMs);
});

test("redirect URIs match exactly, and parameters are appended to existing ones", () => {
  const registered = ["https://app.example/cb", "flotilla://oauth/callback"];
  assert.ok(redirectUriAllowed("https://app.example/cb", registered));
  for (const uri of ["https://app.example/cb/", "https://app.example/cb?x=1", "https://APP.example/cb", "https://app.example/c"]) {
    assert.equal(redirectUriAllowed(uri, registered), false, uri);
  }
  assert.equal(withQuery("https://app.example/cb?keep=1", { code: "c d", state: "" }), "https://app.example/cb?keep=1&code=c+d");
});
