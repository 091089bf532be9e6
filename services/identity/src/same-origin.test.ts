import assert from "node:assert/strict";
import { test } from "node:test";
import { checkSameOrigin } from "./same-origin.ts";

const ISSUER_ORIGIN = "https://id.example.com";

test("a post from the issuer's origin is accepted, whatever Sec-Fetch-Site says", () => {
  assert.deepEqual(checkSameOrigin({ origin: ISSUER_ORIGIN }, ISSUER_ORIGIN), { ok: true });
  assert.deepEqual(checkSameOrigin({ origin: ISSUER_ORIGIN, "sec-fetch-site": "same-origin" }, ISSUER_ORIGIN), { ok: true });
});

test("another origin, a sibling subdomain or an opaque origin is refused", () => {
  for (const origin of ["https://evil.example", "http://id.example.com", "https://id.example.com:8443", "https://login.example.com", "null"]) {
    const r = checkSameOrigin({ origin, "sec-fetch-site": "same-origin" }, ISSUER_ORIGIN);
    assert.equal(r.ok, false, origin);
  }
});

test("without Origin, only Sec-Fetch-Site same-origin or none is accepted", () => {
  assert.deepEqual(checkSameOrigin({ "sec-fetch-site": "same-origin" }, ISSUER_ORIGIN), { ok: true });
  assert.deepEqual(checkSameOrigin({ "sec-fetch-site": "none" }, ISSUER_ORIGIN), { ok: true });
  for (const site of ["cross-site", "same-site"]) assert.equal(checkSameOrigin({ "sec-fetch-site": site }, ISSUER_ORIGIN).ok, false, site);
  const silent = checkSameOrigin({}, ISSUER_ORIGIN);
  assert.equal(silent.ok, false);
  assert.match(silent.ok ? "" : silent.reason, /does not say/);
});
