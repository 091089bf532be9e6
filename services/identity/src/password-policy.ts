// The password rules of NIST SP 800-63B section 5.1.1.2: a minimum length, a
// generous maximum, every character allowed, no composition rules, and a check
// against values known to be commonly used. Pure: the list is passed in.
import { readFileSync } from "node:fs";

export const PASSWORD_MIN_LENGTH = 8;
/** NIST asks for at least 64; argon2 hashes any length, the cap only bounds the work per request. */
export const PASSWORD_MAX_LENGTH = 128;

export type PasswordVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Length is counted in Unicode code points after NFKC normalisation (what the
 * hash sees), so "ｐａｓｓｗｏｒｄ" is the same weak password as "password".
 */
export function checkPassword(password: string, common: ReadonlySet<string>, context: readonly string[] = []): PasswordVerdict {
  const normalised = normalisePassword(password);
  const length = [...normalised].length;
  if (length < PASSWORD_MIN_LENGTH) return { ok: false, reason: `use at least ${PASSWORD_MIN_LENGTH} characters` };
  if (length > PASSWORD_MAX_LENGTH) return { ok: false, reason: `use at most ${PASSWORD_MAX_LENGTH} characters` };
  const lower = normalised.toLowerCase();
  if (common.has(lower)) return { ok: false, reason: "this password is too common; choose another" };
  // NIST also names context-specific words: the user's own email or name.
  for (const word of context) {
    const w = word.toLowerCase();
    if (w.length >= 4 && lower.includes(w)) return { ok: false, reason: "the password must not contain your email or name" };
  }
  return { ok: true };
}

/** What is hashed and compared: NFKC, as NIST recommends for Unicode passwords. */
export function normalisePassword(password: string): string {
  return password.normalize("NFKC");
}

/** The shipped list (common-passwords.txt): one lower-case password a line, `#` comments. */
export function loadCommonPasswords(path: URL = new URL("./common-passwords.txt", import.meta.url)): Set<string> {
  const set = new Set<string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const entry = line.trim();
    if (entry !== "" && !entry.startsWith("#")) set.add(entry.toLowerCase());
  }
  return set;
}
