// ES256 signing keys kept in identity's database, so every replica signs with
// the same active key and publishes the same JWKS. Private keys are stored
// encrypted by the kit field cipher. Rotation overlaps: a new key signs at
// once, a retired key's public half stays in the JWKS until every token it
// signed has expired.
import { randomUUID } from "node:crypto";
import type { Database, FieldCipher } from "@flotilla/kit";
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey as JoseKey } from "jose";

export const PRIVATE_CONTEXT = "identity.signing_keys.private_jwk";
export const SIGNING_ALG = "ES256";

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: JoseKey;
  readonly createdAt: Date;
}

export interface PublicJwk extends JWK {
  kid: string;
}

interface KeyRow {
  kid: string;
  private_enc: string;
  public_jwk: string;
  created_at: Date | string;
  retired_at: Date | string | null;
}

export interface KeyRingOptions {
  db: Database;
  cipher: FieldCipher;
  /** Age at which the active key is replaced. */
  rotationMs: number;
  /** How long a retired key must stay published: the longest token lifetime plus clock skew. */
  overlapMs: number;
  now: () => Date;
}

export class KeyRing {
  readonly #o: KeyRingOptions;
  #active: { key: SigningKey; checkedAt: number } | undefined;
  readonly #publicKeys = new Map<string, JoseKey | Uint8Array>();

  constructor(options: KeyRingOptions) {
    this.#o = options;
  }

  /** The key new tokens are signed with; replaced first when it is older than the rotation age. */
  async active(): Promise<SigningKey> {
    const now = this.#o.now().getTime();
    // Re-read every few seconds so a rotation by another replica is picked up.
    if (this.#active && now - this.#active.checkedAt < 5_000 && now - this.#active.key.createdAt.getTime() < this.#o.rotationMs) {
      return this.#active.key;
    }
    let row = await this.#newest();
    if (row === undefined || now - new Date(row.created_at).getTime() >= this.#o.rotationMs) {
      row = await this.#create(false);
    }
    const key = await this.#load(row);
    this.#active = { key, checkedAt: now };
    return key;
  }

  /** Makes a new key the active one (admin API); returns its kid. */
  async rotate(): Promise<string> {
    const row = await this.#create(true);
    this.#active = undefined;
    return row.kid;
  }

  /** The public keys a verifier needs: the active one and the retired ones still within their overlap. */
  async jwks(): Promise<PublicJwk[]> {
    const cutoff = new Date(this.#o.now().getTime() - this.#o.overlapMs).toISOString();
    const rows = await this.#o.db.query<KeyRow & Record<string, unknown>>(
      "SELECT kid, public_jwk, created_at FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1::timestamptz ORDER BY created_at DESC",
      [cutoff],
    );
    return rows.map((r) => JSON.parse(r.public_jwk) as PublicJwk);
  }

  /** The public key of `kid` if it is still published (used by identity to check its own tokens). */
  async publicKey(kid: string): Promise<JoseKey | Uint8Array | undefined> {
    const published = (await this.jwks()).find((k) => k.kid === kid);
    if (published === undefined) return undefined;
    let key = this.#publicKeys.get(kid);
    if (key === undefined) {
      key = await importJWK(published, SIGNING_ALG);
      this.#publicKeys.set(kid, key);
    }
    return key;
  }

  async #newest(): Promise<KeyRow | undefined> {
    const [row] = await this.#o.db.query<KeyRow & Record<string, unknown>>(
      "SELECT kid, private_enc, public_jwk, created_at, retired_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
    );
    return row;
  }

  /**
   * Creates a key under an advisory lock, so replicas starting together make
   * one; unless `force`, a fresh key made meanwhile by another replica wins.
   */
  async #create(force: boolean): Promise<KeyRow> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = `k_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const publicJwk: PublicJwk = { ...(await exportJWK(publicKey)), kid, use: "sig", alg: SIGNING_ALG };
    const privateEnc = await this.#o.cipher.encrypt(JSON.stringify(await exportJWK(privateKey)), PRIVATE_CONTEXT);
    const now = this.#o.now();
    return this.#o.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))");
      if (!force) {
        const [fresh] = await tx.query<KeyRow & Record<string, unknown>>(
          "SELECT kid, private_enc, public_jwk, created_at, retired_at FROM signing_keys WHERE retired_at IS NULL AND created_at > $1::timestamptz ORDER BY created_at DESC LIMIT 1",
          [new Date(now.getTime() - this.#o.rotationMs).toISOString()],
        );
        if (fresh !== undefined) return fresh;
      }
      await tx.query("UPDATE signing_keys SET retired_at = $1::timestamptz WHERE retired_at IS NULL", [now.toISOString()]);
      await tx.query("INSERT INTO signing_keys (kid, private_enc, public_jwk, created_at) VALUES ($1, $2, $3, $4::timestamptz)", [
        kid,
        privateEnc,
        JSON.stringify(publicJwk),
        now.toISOString(),
      ]);
      return { kid, private_enc: privateEnc, public_jwk: JSON.stringify(publicJwk), created_at: now, retired_at: null };
    });
  }

  async #load(row: KeyRow): Promise<SigningKey> {
    const jwk = JSON.parse(await this.#o.cipher.decrypt(row.private_enc, PRIVATE_CONTEXT)) as JWK;
    const privateKey = (await importJWK(jwk, SIGNING_ALG)) as JoseKey;
    return { kid: row.kid, privateKey, createdAt: new Date(row.created_at) };
  }
}
