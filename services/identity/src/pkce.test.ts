import assert from "node:assert/strict";
import { test } from "node:test";
import { challengeOf, isValidChallenge, verifyPkce } from "./pkce.ts";

// RFC 7636 appendix B.
const RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

test("S256 matches the RFC 7636 example", () => {
  assert.equal(challengeOf(RFC_VERIFIER), RFC_CHALLENGE);
  assert.ok(verifyPkce(RFC_VERIFIER, RFC_CHALLENGE));
  assert.ok(isValidChallenge(RFC_CHALLENGE));
});

test("a wrong verifier, or `plain` (verifier = challenge), is refused", () => {
  assert.equal(verifyPkce(`${RFC_VERIFIER.slice(0, -1)}l`, RFC_CHALLENGE), false);
  const plain = "a".repeat(43);
  assert.equal(verifyPkce(plain, plain), false);
});

test("verifiers outside 43..128 unreserved characters are refused", () => {
  const short = "a".repeat(42);
  assert.equal(verifyPkce(short, challengeOf(short)), false);
  const long = "a".repeat(129);
  assert.equal(verifyPkce(long, challengeOf(long)), false);
  const spaced = `${"a".repeat(42)} `;
  assert.equal(verifyPkce(spaced, challengeOf(spaced)), false);
  assert.equal(isValidChallenge("short"), false);
  assert.equal(isValidChallenge(`${RFC_CHALLENGE}=`), false);
});
