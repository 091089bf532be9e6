import assert from "node:assert/strict";
import { test } from "node:test";
import { checkPassword, loadCommonPasswords } from "./password-policy.ts";

const common = loadCommonPasswords();

test("the shipped list has a few thousand lower-case entries of 8+ characters", () => {
  assert.ok(common.size > 3000, String(common.size));
  for (const p of common) assert.ok(p.length >= 8 && p === p.toLowerCase(), p);
  for (const p of ["password", "password1", "qwertyuiop", "iloveyou2024", "12345678"]) assert.ok(common.has(p), p);
});

test("length: at least 8, at most 128, counted in code points after NFKC", () => {
  assert.equal(checkPassword("Zq7!xk2", common).ok, false);
  assert.equal(checkPassword("Zq7!xk2v", common).ok, true);
  assert.equal(checkPassword("x".repeat(129), common).ok, false);
  // Eight emoji are eight characters (16 UTF-16 units): accepted; no composition rules.
  assert.equal(checkPassword("🐙🦑🐚🦀🐠🐡🐬🐳", common).ok, true);
  assert.equal(checkPassword("lowercase words only here", common).ok, true);
});

test("common passwords are refused whatever their case or width", () => {
  for (const p of ["password123", "PASSWORD123", "Qwertyuiop", "ｐａｓｓｗｏｒｄ１２３"]) {
    const verdict = checkPassword(p, common);
    assert.equal(verdict.ok, false, p);
  }
});

test("the user's own email or name is refused inside the password", () => {
  assert.equal(checkPassword("anabanana-2031", common, ["anabanana"]).ok, false);
  assert.equal(checkPassword("totally-unrelated-31", common, ["anabanana"]).ok, true);
});
