import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { FlotillaError } from "../../errors/index.ts";
import { envKeyProvider } from "./env-key-provider.ts";
import { createFieldCipher } from "./field-cipher.ts";

const a = randomBytes(32).toString("base64");
const b = randomBytes(32).toString("base64");

function configError(env: NodeJS.ProcessEnv, mentions: string) {
  assert.throws(
    () => envKeyProvider(env),
    (e) => {
      assert.ok(e instanceof FlotillaError);
      assert.equal(e.code, "KIT_ERR_CONFIG_INVALID");
      assert.ok(e.message.includes(mentions), e.message);
      for (const secret of [a, b]) assert.ok(!e.message.includes(secret), "the message leaks a key");
      return true;
    },
  );
}

describe("envKeyProvider", () => {
  test("one key: id k1 by default, or FLOTILLA_MASTER_KEY_ID", async () => {
    assert.equal(envKeyProvider({ FLOTILLA_MASTER_KEY: a }).currentKeyId(), "k1");
    assert.equal(envKeyProvider({ FLOTILLA_MASTER_KEY: a, FLOTILLA_MASTER_KEY_ID: "2026-11" }).currentKeyId(), "2026-11");
    const cipher = createFieldCipher({ keys: envKeyProvider({ FLOTILLA_MASTER_KEY: a }) });
    assert.equal(await cipher.decrypt(await cipher.encrypt("x", "c"), "c"), "x");
  });

  test("several keys: the named one is current, blind indexes keep the first key", async () => {
    const single = createFieldCipher({ keys: envKeyProvider({ FLOTILLA_MASTER_KEY: a }) });
    const rotated = createFieldCipher({ keys: envKeyProvider({ FLOTILLA_MASTER_KEYS: `k1:${a},k2:${b}`, FLOTILLA_MASTER_KEY_ID: "k2" }) });
    const old = await single.encrypt("x", "c");
    assert.equal(await rotated.decrypt(old, "c"), "x");
    assert.equal(rotated.keyIdOf(await rotated.encrypt("x", "c")), "k2");
    assert.equal(rotated.blindIndex("x", "c"), single.blindIndex("x", "c"));
  });

  test("missing or malformed settings name the variable and never echo a key", () => {
    configError({}, "FLOTILLA_MASTER_KEY is required");
    configError({ FLOTILLA_MASTER_KEY: "not base64!" }, "FLOTILLA_MASTER_KEY is not base64");
    configError({ FLOTILLA_MASTER_KEY: randomBytes(16).toString("base64") }, "FLOTILLA_MASTER_KEY must decode to 32 bytes");
    configError({ FLOTILLA_MASTER_KEY: a, FLOTILLA_MASTER_KEYS: `k2:${b}` }, "not both");
    configError({ FLOTILLA_MASTER_KEYS: `k1:${a},k2:${b}` }, "FLOTILLA_MASTER_KEY_ID is required");
    configError({ FLOTILLA_MASTER_KEYS: `k1:${a},k2:${b}`, FLOTILLA_MASTER_KEY_ID: "k3" }, "FLOTILLA_MASTER_KEY_ID names a key");
    configError({ FLOTILLA_MASTER_KEYS: `k1:${a},k1:${b}`, FLOTILLA_MASTER_KEY_ID: "k1" }, "twice");
    configError({ FLOTILLA_MASTER_KEYS: a, FLOTILLA_MASTER_KEY_ID: "k1" }, "id:base64");
    configError({ FLOTILLA_MASTER_KEYS: `k1:${a}`, FLOTILLA_BLIND_INDEX_KEY_ID: "zz" }, "FLOTILLA_BLIND_INDEX_KEY_ID");
  });
});
