import type { FieldCipher } from "./types.ts";

/** One row as the re-encryption job sees it: a stable key and its encrypted columns by context. */
export interface EncryptedRow {
  key: string;
  fields: Record<string, string | null>;
}

export interface ReencryptOptions {
  cipher: FieldCipher;
  /** Rows ordered by key, strictly after `after` (keyset pagination), at most `limit`. */
  readBatch(after: string | undefined, limit: number): Promise<EncryptedRow[]>;
  /** Stores the changed fields of the given rows (only fields written with an old key are included). */
  writeBatch(rows: EncryptedRow[]): Promise<void>;
  batchSize?: number;
  /** Stops between batches. */
  signal?: AbortSignal;
}

export interface ReencryptResult {
  scanned: number;
  rewritten: number;
}

/**
 * The key-rotation job: walks every row, and rewrites each value written with an
 * older master key under the current one, a batch at a time. Idempotent and
 * resumable — values already under the current key are skipped — so it can run
 * again after a crash. Retire the old key only once a run reports `rewritten: 0`.
 *
 *   await reencryptRows({ cipher, readBatch: (after, n) => sql`… where id > ${after} order by id limit ${n}`,
 *     writeBatch: (rows) => … update … });
 */
export async function reencryptRows(options: ReencryptOptions): Promise<ReencryptResult> {
  const batchSize = options.batchSize ?? 500;
  let after: string | undefined;
  let scanned = 0;
  let rewritten = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const rows = await options.readBatch(after, batchSize);
    if (rows.length === 0) break;
    const changed: EncryptedRow[] = [];
    for (const row of rows) {
      const fields: Record<string, string | null> = {};
      let touched = false;
      for (const [context, stored] of Object.entries(row.fields)) {
        if (stored === null || !options.cipher.needsReencryption(stored)) continue;
        fields[context] = await options.cipher.reencrypt(stored, context);
        touched = true;
      }
      if (touched) changed.push({ key: row.key, fields });
    }
    if (changed.length > 0) await options.writeBatch(changed);
    scanned += rows.length;
    rewritten += changed.length;
    after = (rows[rows.length - 1] as EncryptedRow).key;
    if (rows.length < batchSize) break;
  }
  return { scanned, rewritten };
}
