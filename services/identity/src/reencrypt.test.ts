// Master-key rotation on PGlite: every encrypted column ends up under the new
// key, still decrypts to the same value, and the old key can then be retired.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { createFieldCipher, type Database, localKeyProvider } from "@flotilla/kit";
import { migrate, PgliteProvider } from "@flotilla/kit/internal";
import { FIELD } from "./deps.ts";
import { migrations } from "./migrations.ts";
import { reencryptIdentity } from "./reencrypt.ts";
import { KeyRing } from "./signing-keys.ts";
import { insertAccount, updateProfile } from "./store.ts";

const provider = new PgliteProvider();
let db: Database;
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const old = createFieldCipher({ keys: localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }) });
// During the rotation both keys are known; the blind index stays on its own key.
const rotating = createFieldCipher({ keys: localKeyProvider({ keys: { k1, k2 }, currentKeyId: "k2", indexKeyId: "k1" }) });
const retired = createFieldCipher({ keys: localKeyProvider({ keys: { k2 }, currentKeyId: "k2" }) });

before(async () => {
  db = await provider.open("identity");
  await migrate(db, migrations);
  for (let i = 0; i < 7; i++) {
    const email = `u${i}@example.test`;
    await insertAccount(db, {
      accountId: `acc_${i}`,
      emailEnc: await old.encrypt(email, FIELD.email),
      emailIndex: old.blindIndex(email, FIELD.email),
      passwordHash: "x",
      displayName: `U${i}`,
      createdAt: new Date(),
    });
    if (i % 2 === 0) await updateProfile(db, `acc_${i}`, { phoneEnc: await old.encrypt(`+35191000000${i}`, FIELD.phone) });
  }
  await new KeyRing({ db, cipher: old, rotationMs: 86_400_000, overlapMs: 630_000, now: () => new Date() }).active();
});
after(() => provider.close());

test("a rotation rewrites emails, phones and signing keys under the new key; a second run finds nothing", async () => {
  const first = await reencryptIdentity(db, rotating, "k2");
  assert.deepEqual(first.accounts, { scanned: 7, rewritten: 7 });
  assert.deepEqual(first.signingKeys, { scanned: 1, rewritten: 1 });

  const rows = await db.query<{ account_id: string; email_enc: string; phone_enc: string | null; email_index: string }>(
    "SELECT account_id, email_enc, phone_enc, email_index FROM accounts ORDER BY account_id",
  );
  for (const [i, row] of rows.entries()) {
    assert.equal(retired.keyIdOf(row.email_enc), "k2");
    assert.equal(await retired.decrypt(row.email_enc, FIELD.email), `u${i}@example.test`);
    if (i % 2 === 0) assert.equal(await retired.decrypt(row.phone_enc as string, FIELD.phone), `+35191000000${i}`);
    else assert.equal(row.phone_enc, null);
    // Lookups still work: the blind index did not move.
    assert.equal(rotating.blindIndex(`u${i}@example.test`, FIELD.email), row.email_index);
  }
  const ring = new KeyRing({ db, cipher: retired, rotationMs: 86_400_000, overlapMs: 630_000, now: () => new Date() });
  assert.ok((await ring.active()).kid, "the signing key decrypts without the old master key");

  const second = await reencryptIdentity(db, rotating, "k2");
  assert.deepEqual(second, { accounts: { scanned: 0, rewritten: 0 }, signingKeys: { scanned: 0, rewritten: 0 } });
});
