import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { FlotillaError } from "../../errors/index.ts";
import { createFieldCipher } from "./field-cipher.ts";
import { localKeyProvider } from "./local-key-provider.ts";

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const EMAIL = "identity.accounts.email";

function code(error: unknown) {
  return error instanceof FlotillaError ? error.code : String(error);
}

describe("field cipher", () => {
  const cipher = createFieldCipher({ keys: localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }) });

  test("round trip, with a fresh data key and IV for each value", async () => {
    const a = await cipher.encrypt("a@b.c", EMAIL);
    const b = await cipher.encrypt("a@b.c", EMAIL);
    assert.notEqual(a, b);
    assert.ok(!a.includes("a@b.c"));
    assert.match(a, /^fe1\.k1\./);
    assert.equal(cipher.keyIdOf(a), "k1");
    assert.equal(await cipher.decrypt(a, EMAIL), "a@b.c");
    assert.equal(await cipher.decrypt(b, EMAIL), "a@b.c");
    assert.equal(await cipher.decrypt(await cipher.encrypt("", EMAIL), EMAIL), "");
    assert.equal(await cipher.decrypt(await cipher.encrypt("Zoë 📱", EMAIL), EMAIL), "Zoë 📱");
  });

  test("a batch shares one wrapped data key and each value decrypts", async () => {
    const stored = await cipher.encryptMany(["x", "y", "z"], EMAIL);
    assert.equal(new Set(stored.map((s) => s.split(".")[2])).size, 1);
    assert.deepEqual(await Promise.all(stored.map((s) => cipher.decrypt(s, EMAIL))), ["x", "y", "z"]);
  });

  test("another context (AAD) does not decrypt", async () => {
    const stored = await cipher.encrypt("a@b.c", EMAIL);
    await assert.rejects(cipher.decrypt(stored, "identity.accounts.phone"), (e) => code(e) === "KIT_ERR_CRYPTO_DECRYPT_FAILED");
  });

  test("any altered part fails", async () => {
    const stored = await cipher.encrypt("a@b.c", EMAIL);
    const parts = stored.split(".");
    for (const i of [2, 3, 4]) {
      const bytes = Buffer.from(parts[i] as string, "base64url");
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      const altered = [...parts];
      altered[i] = bytes.toString("base64url");
      await assert.rejects(
        createFieldCipher({ keys: localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }) }).decrypt(altered.join("."), EMAIL),
        (e) => ["KIT_ERR_CRYPTO_DECRYPT_FAILED", "KIT_ERR_CRYPTO_MALFORMED"].includes(code(e)),
        `part ${i}`,
      );
    }
    const swapped = [...parts];
    swapped[1] = "k2";
    await assert.rejects(cipher.decrypt(swapped.join("."), EMAIL), (e) => code(e) === "KIT_ERR_CRYPTO_UNKNOWN_KEY");
  });

  test("a wrapped data key spliced in from another value does not fit", async () => {
    const a = (await cipher.encrypt("a", EMAIL)).split(".");
    const b = (await cipher.encrypt("b", EMAIL)).split(".");
    const spliced = [a[0], a[1], b[2], a[3], a[4]].join(".");
    await assert.rejects(cipher.decrypt(spliced, EMAIL), (e) => code(e) === "KIT_ERR_CRYPTO_DECRYPT_FAILED");
  });

  test("malformed input is a typed error", async () => {
    for (const bad of ["", "plain", "fe2.k1.a.b.c", "fe1.k1.a.b", "fe1.k!.AAAA.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "fe1.k1.AA.AA.AA"]) {
      await assert.rejects(cipher.decrypt(bad, EMAIL), (e) => code(e) === "KIT_ERR_CRYPTO_MALFORMED", bad);
    }
  });

  test("another master key cannot read the value", async () => {
    const stored = await cipher.encrypt("a@b.c", EMAIL);
    const other = createFieldCipher({ keys: localKeyProvider({ keys: { k1: k2 }, currentKeyId: "k1" }) });
    await assert.rejects(other.decrypt(stored, EMAIL), (e) => code(e) === "KIT_ERR_CRYPTO_DECRYPT_FAILED");
  });

  test("blind index: deterministic per context, differs across contexts and keys", () => {
    const again = createFieldCipher({ keys: localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }) });
    const i = cipher.blindIndex("a@b.c", EMAIL);
    assert.equal(i, again.blindIndex("a@b.c", EMAIL));
    assert.match(i, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(i, cipher.blindIndex("a@b.d", EMAIL));
    assert.notEqual(i, cipher.blindIndex("a@b.c", "identity.accounts.phone"));
    const otherKey = createFieldCipher({ keys: localKeyProvider({ keys: { k1: k2 }, currentKeyId: "k1" }) });
    assert.notEqual(i, otherKey.blindIndex("a@b.c", EMAIL));
  });

  test("rotation: old values stay readable, reencrypt moves them to the current key, the blind index stays", async () => {
    const before = createFieldCipher({ keys: localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }) });
    const old = await before.encrypt("a@b.c", EMAIL);
    const after = createFieldCipher({ keys: localKeyProvider({ keys: { k1, k2 }, currentKeyId: "k2", indexKeyId: "k1" }) });
    assert.equal(await after.decrypt(old, EMAIL), "a@b.c");
    assert.equal(after.needsReencryption(old), true);
    const fresh = await after.reencrypt(old, EMAIL);
    assert.equal(after.keyIdOf(fresh), "k2");
    assert.equal(after.needsReencryption(fresh), false);
    assert.equal(await after.decrypt(fresh, EMAIL), "a@b.c");
    assert.equal(after.blindIndex("a@b.c", EMAIL), before.blindIndex("a@b.c", EMAIL));
    const retired = createFieldCipher({ keys: localKeyProvider({ keys: { k2 }, currentKeyId: "k2" }) });
    assert.equal(await retired.decrypt(fresh, EMAIL), "a@b.c");
    await assert.rejects(retired.decrypt(old, EMAIL), (e) => code(e) === "KIT_ERR_CRYPTO_UNKNOWN_KEY");
  });
});
