// The key ring on PGlite: rotation with overlap, replicas sharing keys through
// the database, private keys stored encrypted.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { createFieldCipher, type Database, localKeyProvider } from "@flotilla/kit";
import { migrate, PgliteProvider } from "@flotilla/kit/internal";
import { migrations } from "./migrations.ts";
import { KeyRing } from "./signing-keys.ts";

const provider = new PgliteProvider();
let db: Database;
let clock = Date.parse("2031-01-01T00:00:00Z");
const cipher = createFieldCipher({ keys: localKeyProvider({ keys: { k1: randomBytes(32) }, currentKeyId: "k1" }) });
const ring = () => new KeyRing({ db, cipher, rotationMs: 86_400_000, overlapMs: 630_000, now: () => new Date(clock) });

before(async () => {
  db = await provider.open("identity");
  await migrate(db, migrations);
});
after(() => provider.close());

test("replicas share the active key through the database", async () => {
  const a = ring();
  const b = ring();
  const [ka, kb] = await Promise.all([a.active(), b.active()]);
  assert.equal(ka.kid, kb.kid);
  assert.deepEqual((await a.jwks()).map((k) => k.kid), [ka.kid]);
});

test("the private key is stored encrypted, the public JWK has no private part", async () => {
  const rows = await db.query<{ private_enc: string; public_jwk: string }>("SELECT private_enc, public_jwk FROM signing_keys");
  for (const r of rows) {
    assert.doesNotMatch(r.private_enc, /"d"\s*:/);
    const pub = JSON.parse(r.public_jwk) as Record<string, string>;
    assert.equal(pub.d, undefined);
    assert.deepEqual([pub.kty, pub.crv, pub.alg, pub.use], ["EC", "P-256", "ES256", "sig"]);
  }
});

test("rotation: a new key signs, the old one stays published for the overlap, then leaves", async () => {
  const a = ring();
  const old = await a.active();
  clock += 1_000;
  const kid = await a.rotate();
  assert.notEqual(kid, old.kid);
  assert.equal((await a.active()).kid, kid);
  assert.equal((await ring().active()).kid, kid, "another replica signs with the new key too");
  assert.deepEqual((await a.jwks()).map((k) => k.kid), [kid, old.kid]);
  assert.ok(await a.publicKey(old.kid));
  clock += 631_000;
  assert.deepEqual((await a.jwks()).map((k) => k.kid), [kid]);
  assert.equal(await a.publicKey(old.kid), undefined);
});

test("automatic rotation once the active key is older than the rotation age", async () => {
  const a = ring();
  const before = await a.active();
  clock += 86_400_000 + 1;
  const after = await a.active();
  assert.notEqual(after.kid, before.kid);
  assert.deepEqual((await a.jwks()).map((k) => k.kid), [after.kid, before.kid]);
});
