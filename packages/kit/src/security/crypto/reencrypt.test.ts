import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createFieldCipher } from "./field-cipher.ts";
import { localKeyProvider } from "./local-key-provider.ts";
import { type EncryptedRow, reencryptRows } from "./reencrypt.ts";

test("reencryptRows rewrites every value under the old key, in batches, and a second run finds nothing", async () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const before = createFieldCipher({ keys: localKeyProvider({ keys: { k1 }, currentKeyId: "k1" }) });
  const after = createFieldCipher({ keys: localKeyProvider({ keys: { k1, k2 }, currentKeyId: "k2", indexKeyId: "k1" }) });
  const table = new Map<string, { email: string; phone: string | null }>();
  for (let i = 0; i < 23; i++) {
    const key = `acc-${String(i).padStart(3, "0")}`;
    const cipher = i % 5 === 0 ? after : before; // some rows already written after the switch
    table.set(key, { email: await cipher.encrypt(`u${i}@x.y`, "email"), phone: i % 2 ? await cipher.encrypt(`+33${i}`, "phone") : null });
  }
  const batches: number[] = [];
  const run = () =>
    reencryptRows({
      cipher: after,
      batchSize: 5,
      async readBatch(afterKey, limit) {
        const keys = [...table.keys()].sort().filter((k) => afterKey === undefined || k > afterKey).slice(0, limit);
        batches.push(keys.length);
        return keys.map((key): EncryptedRow => {
          const row = table.get(key) as { email: string; phone: string | null };
          return { key, fields: { email: row.email, phone: row.phone } };
        });
      },
      async writeBatch(rows) {
        for (const row of rows) {
          const current = table.get(row.key) as { email: string; phone: string | null };
          table.set(row.key, { email: row.fields.email ?? current.email, phone: row.fields.phone ?? current.phone });
        }
      },
    });

  const first = await run();
  assert.equal(first.scanned, 23);
  assert.equal(first.rewritten, 23 - 5);
  assert.deepEqual(batches, [5, 5, 5, 5, 3]);
  let i = 0;
  for (const row of table.values()) {
    assert.equal(after.keyIdOf(row.email), "k2");
    assert.equal(await after.decrypt(row.email, "email"), `u${i}@x.y`);
    if (row.phone) assert.equal(await after.decrypt(row.phone, "phone"), `+33${i}`);
    i++;
  }
  const retired = createFieldCipher({ keys: localKeyProvider({ keys: { k2 }, currentKeyId: "k2" }) });
  for (const row of table.values()) await retired.decrypt(row.email, "email");
  assert.deepEqual(await run(), { scanned: 23, rewritten: 0 });
});
