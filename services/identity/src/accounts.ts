// Accounts: sign-up, password sign-in with brute-force throttling, profile.
// Email and phone are stored encrypted; the email is found by its blind index.
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { identityEventsV1, identityV1 } from "@flotilla/contracts";
import { createEvent } from "@flotilla/kit/internal";
import { newAccountId, normaliseEmail } from "./domain.ts";
import { FIELD, type IdentityDeps } from "./deps.ts";
import { identityErrors } from "./errors.ts";
import { checkPassword } from "./password-policy.ts";
import * as store from "./store.ts";
import { blockedUntil, clearFailures, recordFailure } from "./throttle.ts";

export async function createAccount(d: IdentityDeps, input: { email: string; password: string; displayName: string }): Promise<string> {
  const email = normaliseEmail(input.email);
  const verdict = checkPassword(input.password, d.commonPasswords, [email.split("@")[0] ?? "", input.displayName]);
  if (!verdict.ok) {
    throw identityErrors.create("IDENTITY_ERR_WEAK_PASSWORD", verdict.reason, { violations: [{ field: "password", message: verdict.reason, rule: "nist_800_63b" }] });
  }
  const accountId = newAccountId();
  const passwordHash = await d.hasher.hash(input.password);
  const emailEnc = await d.cipher.encrypt(email, FIELD.email);
  const created = await d.db.transaction(async (tx) => {
    const inserted = await store.insertAccount(tx, {
      accountId,
      emailEnc,
      emailIndex: d.cipher.blindIndex(email, FIELD.email),
      passwordHash,
      displayName: input.displayName.trim(),
      createdAt: d.now(),
    });
    if (!inserted) return false;
    const event = create(identityEventsV1.AccountCreatedSchema, { accountId });
    await d.outbox.enqueue(tx, [createEvent(identityEventsV1.AccountCreatedSchema, event, { source: d.source, subject: accountId })]);
    return true;
  });
  if (!created) throw identityErrors.create("IDENTITY_ERR_EMAIL_TAKEN", "an account with this email already exists");
  return accountId;
}

/** Per hasher, a hash of a random password, verified when the email is unknown so both cases cost the same time. */
const decoys = new WeakMap<object, Promise<string>>();

/**
 * Checks an email and password for a sign-in. Failures count against the
 * email (known or not, so probing unknown addresses is throttled too) and the
 * client address; while either is blocked the password is not checked and the
 * answer is IDENTITY_ERR_TOO_MANY_ATTEMPTS.
 */
export async function authenticate(d: IdentityDeps, emailInput: string, password: string, clientIp: string): Promise<string> {
  const email = normaliseEmail(emailInput);
  const emailIndex = d.cipher.blindIndex(email, FIELD.email);
  const keys = [`account:${emailIndex}`, `ip:${clientIp}`];
  const now = d.now();
  const blocked = await blockedUntil(d.db, keys, now);
  if (blocked !== undefined) {
    const seconds = Math.max(1, Math.ceil((blocked.getTime() - now.getTime()) / 1000));
    throw identityErrors.create("IDENTITY_ERR_TOO_MANY_ATTEMPTS", `too many failed sign-ins; try again in ${seconds} s`);
  }
  const account = await store.findAccountByEmailIndex(d.db, emailIndex);
  let decoyHash = decoys.get(d.hasher);
  if (decoyHash === undefined) {
    decoyHash = d.hasher.hash(randomBytes(16).toString("hex"));
    decoys.set(d.hasher, decoyHash);
  }
  let ok = false;
  if (account === undefined) await d.hasher.verify(await decoyHash, password);
  else ok = await d.hasher.verify(account.password_hash, password);
  if (!ok) {
    await d.db.transaction(async (tx) => {
      const byAccount = await recordFailure(tx, keys[0]!, now);
      await recordFailure(tx, keys[1]!, now);
      if (account !== undefined && byAccount.blockedUntil !== undefined) {
        const event = create(identityEventsV1.AccountLockedSchema, {
          accountId: account.account_id,
          failedAttempts: byAccount.failures,
          lockedUntil: byAccount.blockedUntil.toISOString(),
        });
        await d.outbox.enqueue(tx, [createEvent(identityEventsV1.AccountLockedSchema, event, { source: d.source, subject: account.account_id })]);
      }
    });
    throw identityErrors.create("IDENTITY_ERR_INVALID_GRANT", "the email or password is wrong");
  }
  await clearFailures(d.db, keys[0]!);
  if (d.hasher.needsRehash(account!.password_hash)) await store.updatePasswordHash(d.db, account!.account_id, await d.hasher.hash(password));
  return account!.account_id;
}

export async function loadAccount(d: IdentityDeps, accountId: string): Promise<identityV1.Account> {
  const row = await store.findAccount(d.db, accountId);
  if (row === undefined) throw identityErrors.create("IDENTITY_ERR_ACCOUNT_NOT_FOUND", `no account ${accountId}`);
  const { roles } = await store.rolesOf(d.db, accountId);
  return create(identityV1.AccountSchema, {
    accountId: row.account_id,
    email: await d.cipher.decrypt(row.email_enc, FIELD.email),
    displayName: row.display_name,
    phone: row.phone_enc === null ? "" : await d.cipher.decrypt(row.phone_enc, FIELD.phone),
    roles,
    createdAt: timestampFromDate(new Date(row.created_at)),
  });
}

export async function updateProfile(d: IdentityDeps, accountId: string, changes: { displayName?: string | undefined; phone?: string | undefined }): Promise<void> {
  await store.updateProfile(d.db, accountId, {
    ...(changes.displayName === undefined ? {} : { displayName: changes.displayName.trim() }),
    ...(changes.phone === undefined ? {} : { phoneEnc: changes.phone === "" ? null : await d.cipher.encrypt(changes.phone, FIELD.phone) }),
  });
}

/**
 * The bootstrap admin (FLOTILLA_ADMIN_EMAIL / FLOTILLA_ADMIN_PASSWORD): created
 * with the `admin` role when missing; an existing account just gets the role.
 * Idempotent, so every replica may run it at start.
 */
export async function ensureAdmin(d: IdentityDeps, email: string, password: string): Promise<string> {
  const existing = await store.findAccountByEmailIndex(d.db, d.cipher.blindIndex(normaliseEmail(email), FIELD.email));
  let accountId = existing?.account_id;
  if (accountId === undefined) {
    try {
      accountId = await createAccount(d, { email, password, displayName: "Administrator" });
    } catch (error) {
      // Another replica created it meanwhile.
      const again = await store.findAccountByEmailIndex(d.db, d.cipher.blindIndex(normaliseEmail(email), FIELD.email));
      if (again === undefined) throw error;
      accountId = again.account_id;
    }
  }
  await store.assignRole(d.db, accountId, "admin");
  return accountId;
}
