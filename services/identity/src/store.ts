// Accounts, roles and clients: SQL only. Encryption happens in accounts.ts;
// rows here hold ciphertexts.
import type { Queryable } from "@flotilla/kit";

export interface AccountRow {
  account_id: string;
  email_enc: string;
  password_hash: string;
  display_name: string;
  phone_enc: string | null;
  created_at: Date | string;
}

export interface ClientRow {
  client_id: string;
  secret_hash: string | null;
  confidential: boolean;
  first_party: boolean;
  redirect_uris: string[];
  grant_types: string[];
  scopes: string[];
  permissions: string[];
}

export async function insertAccount(
  db: Queryable,
  a: { accountId: string; emailEnc: string; emailIndex: string; passwordHash: string; displayName: string; createdAt: Date },
): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO accounts (account_id, email_enc, email_index, password_hash, display_name, created_at)
     VALUES ($1, $2, $3, $4, $5, $6::timestamptz) ON CONFLICT (email_index) DO NOTHING RETURNING account_id`,
    [a.accountId, a.emailEnc, a.emailIndex, a.passwordHash, a.displayName, a.createdAt.toISOString()],
  );
  return rows.length === 1;
}

const ACCOUNT_COLUMNS = "account_id, email_enc, password_hash, display_name, phone_enc, created_at";

export async function findAccount(db: Queryable, accountId: string): Promise<AccountRow | undefined> {
  const [row] = await db.query<AccountRow & Record<string, unknown>>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE account_id = $1`, [accountId]);
  return row;
}

export async function findAccountByEmailIndex(db: Queryable, emailIndex: string): Promise<AccountRow | undefined> {
  const [row] = await db.query<AccountRow & Record<string, unknown>>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE email_index = $1`, [emailIndex]);
  return row;
}

export async function updateProfile(db: Queryable, accountId: string, changes: { displayName?: string; phoneEnc?: string | null }): Promise<void> {
  if (changes.displayName !== undefined) await db.query("UPDATE accounts SET display_name = $2 WHERE account_id = $1", [accountId, changes.displayName]);
  if (changes.phoneEnc !== undefined) await db.query("UPDATE accounts SET phone_enc = $2 WHERE account_id = $1", [accountId, changes.phoneEnc]);
}

export async function updatePasswordHash(db: Queryable, accountId: string, hash: string): Promise<void> {
  await db.query("UPDATE accounts SET password_hash = $2 WHERE account_id = $1", [accountId, hash]);
}

/** The account's role names and the union of their permissions, sorted. */
export async function rolesOf(db: Queryable, accountId: string): Promise<{ roles: string[]; permissions: string[] }> {
  const rows = await db.query<{ name: string; permissions: string }>(
    "SELECT r.name, r.permissions FROM account_roles ar JOIN roles r ON r.name = ar.role WHERE ar.account_id = $1 ORDER BY r.name",
    [accountId],
  );
  const permissions = new Set<string>();
  for (const r of rows) for (const p of JSON.parse(r.permissions) as string[]) permissions.add(p);
  return { roles: rows.map((r) => r.name), permissions: [...permissions].sort() };
}

export async function putRole(db: Queryable, name: string, permissions: readonly string[]): Promise<void> {
  await db.query(
    "INSERT INTO roles (name, permissions) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET permissions = EXCLUDED.permissions",
    [name, JSON.stringify([...new Set(permissions)].sort())],
  );
}

export async function listRoles(db: Queryable): Promise<{ name: string; permissions: string[] }[]> {
  const rows = await db.query<{ name: string; permissions: string }>("SELECT name, permissions FROM roles ORDER BY name");
  return rows.map((r) => ({ name: r.name, permissions: JSON.parse(r.permissions) as string[] }));
}

export async function roleExists(db: Queryable, name: string): Promise<boolean> {
  return (await db.query("SELECT 1 FROM roles WHERE name = $1", [name])).length === 1;
}

export async function assignRole(db: Queryable, accountId: string, role: string): Promise<void> {
  await db.query("INSERT INTO account_roles (account_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING", [accountId, role]);
}

export async function unassignRole(db: Queryable, accountId: string, role: string): Promise<void> {
  await db.query("DELETE FROM account_roles WHERE account_id = $1 AND role = $2", [accountId, role]);
}

type RawClient = Omit<ClientRow, "redirect_uris" | "grant_types" | "scopes" | "permissions"> & {
  redirect_uris: string;
  grant_types: string;
  scopes: string;
  permissions: string;
};

export async function findClient(db: Queryable, clientId: string): Promise<ClientRow | undefined> {
  const [row] = await db.query<RawClient & Record<string, unknown>>(
    "SELECT client_id, secret_hash, confidential, first_party, redirect_uris, grant_types, scopes, permissions FROM clients WHERE client_id = $1",
    [clientId],
  );
  if (row === undefined) return undefined;
  return {
    ...row,
    redirect_uris: JSON.parse(row.redirect_uris) as string[],
    grant_types: JSON.parse(row.grant_types) as string[],
    scopes: JSON.parse(row.scopes) as string[],
    permissions: JSON.parse(row.permissions) as string[],
  };
}

export async function insertClient(db: Queryable, c: ClientRow): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO clients (client_id, secret_hash, confidential, first_party, redirect_uris, grant_types, scopes, permissions)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
    [c.client_id, c.secret_hash, c.confidential, c.first_party, JSON.stringify(c.redirect_uris), JSON.stringify(c.grant_types), JSON.stringify(c.scopes), JSON.stringify(c.permissions)],
  );
  return rows.length === 1;
}
