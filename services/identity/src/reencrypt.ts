// After a master-key rotation, rewrites identity's encrypted columns under the
// current key, so the old key can be retired. Runs in the background at every
// start; when nothing is under an old key it costs one indexed-free scan that
// finds no rows (the key id is visible in the stored value's prefix).
import { type FieldCipher, type Queryable, reencryptRows, type ReencryptResult } from "@flotilla/kit";
import { FIELD } from "./deps.ts";
import { PRIVATE_CONTEXT } from "./signing-keys.ts";

// Stored values are `fe1.<keyId>.…`: a row needs work when a column does not start with the current prefix.
const stale = (column: string) => `(${column} IS NOT NULL AND left(${column}, length($2)) <> $2)`;

export interface ReencryptReport {
  accounts: ReencryptResult;
  signingKeys: ReencryptResult;
}

export async function reencryptIdentity(db: Queryable, cipher: FieldCipher, currentKeyId: string, signal?: AbortSignal): Promise<ReencryptReport> {
  const prefix = `fe1.${currentKeyId}.`;
  // Compare-and-set on the old value: a concurrent profile update (or another replica's run) wins.
  const accounts = await reencryptRows({
    cipher,
    ...(signal ? { signal } : {}),
    async readBatch(after, limit) {
      const rows = await db.query<{ account_id: string; email_enc: string; phone_enc: string | null }>(
        `SELECT account_id, email_enc, phone_enc FROM accounts
          WHERE account_id > $1 AND (${stale("email_enc")} OR ${stale("phone_enc")})
          ORDER BY account_id LIMIT $3`,
        [after ?? "", prefix, limit],
      );
      return rows.map((r) => ({ key: r.account_id, fields: { [FIELD.email]: r.email_enc, [FIELD.phone]: r.phone_enc } }));
    },
    async writeBatch(rows) {
      for (const row of rows) {
        for (const [context, value] of Object.entries(row.fields)) {
          const column = context === FIELD.email ? "email_enc" : "phone_enc";
          await db.query(`UPDATE accounts SET ${column} = $1 WHERE account_id = $2 AND left(${column}, length($3)) <> $3`, [value, row.key, prefix]);
        }
      }
    },
  });
  const signingKeys = await reencryptRows({
    cipher,
    ...(signal ? { signal } : {}),
    async readBatch(after, limit) {
      const rows = await db.query<{ kid: string; private_enc: string }>(
        `SELECT kid, private_enc FROM signing_keys WHERE kid > $1 AND ${stale("private_enc")} ORDER BY kid LIMIT $3`,
        [after ?? "", prefix, limit],
      );
      return rows.map((r) => ({ key: r.kid, fields: { [PRIVATE_CONTEXT]: r.private_enc } }));
    },
    async writeBatch(rows) {
      for (const row of rows) {
        const value = row.fields[PRIVATE_CONTEXT];
        if (value) await db.query("UPDATE signing_keys SET private_enc = $1 WHERE kid = $2 AND left(private_enc, length($3)) <> $3", [value, row.key, prefix]);
      }
    },
  });
  return { accounts, signingKeys };
}
