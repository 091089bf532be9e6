// Password hashing with argon2id (RFC 9106) through @node-rs/argon2.
import { type Algorithm, hash, parseOptions, verify } from "@node-rs/argon2";
import { normalisePassword } from "./password-policy.ts";

/**
 * OWASP's first recommended argon2id setting: 19 MiB of memory, 2 passes, one
 * lane. It bounds sign-ins per core by design (a few tens per second), which is
 * what makes a stolen hash expensive to guess.
 */
export const ARGON2_COST = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const ARGON2ID = 2 as Algorithm.Argon2id;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(stored: string, password: string): Promise<boolean>;
  /** Whether a stored hash was made with another cost, so it is rehashed at the next sign-in. */
  needsRehash(stored: string): boolean;
}

export function argon2Hasher(cost: { memoryCost: number; timeCost: number; parallelism: number } = ARGON2_COST): PasswordHasher {
  const options = { algorithm: ARGON2ID, ...cost };
  return {
    hash: (password) => hash(normalisePassword(password), options),
    async verify(stored, password) {
      try {
        return await verify(stored, normalisePassword(password));
      } catch {
        // A malformed stored hash is a failed check, not a crash.
        return false;
      }
    },
    needsRehash(stored) {
      try {
        const p = parseOptions(stored);
        return p.memoryCost !== cost.memoryCost || p.timeCost !== cost.timeCost || p.parallelism !== cost.parallelism;
      } catch {
        return true;
      }
    },
  };
}
