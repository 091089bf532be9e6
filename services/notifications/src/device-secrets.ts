// Device tokens and Web Push keys are credentials: with the app's provider
// key, a token reaches that phone, and a subscription's keys encrypt what its
// browser shows. They are stored sealed (the kit's field cipher: AES-256-GCM
// under a data key wrapped by the master key, the column bound as AAD), and
// the uniqueness of (provider, token) is kept on a blind index.
//
// Rows stored before sealing (token_index NULL) are read as plain text until
// the sealer has rewritten them; the sealer also moves rows sealed under an
// older master key to the current one (after a rotation). It runs in the
// background at every start: when there is nothing to do, it is one indexed
// scan that finds no rows.
import type { Database, FieldCipher, Logger, Queryable } from "@flotilla/kit";
import type { ProviderName } from "./providers/types.ts";

export const DEVICE_FIELD = {
  token: "notifications.devices.token",
  p256dh: "notifications.devices.p256dh",
  auth: "notifications.devices.auth",
} as const;

export interface DeviceSecrets {
  token: string;
  p256dh: string;
  auth: string;
}

export interface SealedDevice extends DeviceSecrets {
  tokenIndex: string;
}

/** The blind index that finds a device by its token (exact, after the handler's normalisation). */
export function tokenIndex(cipher: FieldCipher, provider: ProviderName, token: string): string {
  return cipher.blindIndex(`${provider}\n${token}`, DEVICE_FIELD.token);
}

export async function sealDevice(cipher: FieldCipher, provider: ProviderName, plain: DeviceSecrets): Promise<SealedDevice> {
  const seal = (value: string, context: string) => (value === "" ? Promise.resolve("") : cipher.encrypt(value, context));
  const [token, p256dh, auth] = await Promise.all([seal(plain.token, DEVICE_FIELD.token), seal(plain.p256dh, DEVICE_FIELD.p256dh), seal(plain.auth, DEVICE_FIELD.auth)]);
  return { tokenIndex: tokenIndex(cipher, provider, plain.token), token, p256dh, auth };
}

/** The secrets of a stored row; a row not sealed yet (no index) holds them in plain text. */
export async function openDevice(cipher: FieldCipher, row: { token: string; p256dh: string; auth: string; token_index: string | null }): Promise<DeviceSecrets> {
  if (row.token_index === null) return { token: row.token, p256dh: row.p256dh, auth: row.auth };
  const open = (value: string, context: string) => (value === "" ? Promise.resolve("") : cipher.decrypt(value, context));
  const [token, p256dh, auth] = await Promise.all([open(row.token, DEVICE_FIELD.token), open(row.p256dh, DEVICE_FIELD.p256dh), open(row.auth, DEVICE_FIELD.auth)]);
  return { token, p256dh, auth };
}

const BATCH = 200;

/**
 * Seals the rows stored in plain text and re-seals those under another
 * master key than `currentKeyId`; answers how many rows it rewrote. Each
 * batch locks its rows (SKIP LOCKED: replicas share the work). A plain row
 * whose token was registered again since (a sealed row with the same index)
 * is deleted: the newer registration stands.
 */
export async function sealStoredDevices(db: Database, cipher: FieldCipher, currentKeyId: string, log: Logger, signal?: AbortSignal): Promise<number> {
  const prefix = `fe1.${currentKeyId}.`;
  let total = 0;
  for (;;) {
    signal?.throwIfAborted();
    const done = await db.transaction(async (tx) => {
      const rows = await tx.query<{ device_id: string; provider: ProviderName; token: string; p256dh: string; auth: string; token_index: string | null }>(
        `SELECT device_id, provider, token, p256dh, auth, token_index FROM devices
         WHERE token_index IS NULL OR left(token, length($1)) <> $1
         ORDER BY device_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [prefix, BATCH],
      );
      for (const row of rows) await reseal(tx, cipher, row);
      return rows.length;
    });
    total += done;
    if (done < BATCH) break;
  }
  if (total > 0) log.info({ devices: total }, "device tokens sealed under the current master key");
  return total;
}

async function reseal(tx: Queryable, cipher: FieldCipher, row: { device_id: string; provider: ProviderName; token: string; p256dh: string; auth: string; token_index: string | null }): Promise<void> {
  const sealed = await sealDevice(cipher, row.provider, await openDevice(cipher, row));
  const updated = await tx.query(
    `UPDATE devices SET token = $2, p256dh = $3, auth = $4, token_index = $5
     WHERE device_id = $1 AND NOT EXISTS (SELECT 1 FROM devices o WHERE o.provider = $6 AND o.token_index = $5 AND o.device_id <> $1)
     RETURNING device_id`,
    [row.device_id, sealed.token, sealed.p256dh, sealed.auth, sealed.tokenIndex, row.provider],
  );
  if (updated.length === 0) await tx.query("DELETE FROM devices WHERE device_id = $1", [row.device_id]);
}
