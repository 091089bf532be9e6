// What identity's handlers share: built once per service start in service.ts.
import type { Database, FieldCipher, Queryable } from "@flotilla/kit";
import type { CloudEvent } from "@flotilla/kit";
import type { Logger } from "pino";
import type { TokenIssuer } from "./access-tokens.ts";
import type { IdentityConfig } from "./config.ts";
import type { FormTokens } from "./form-token.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { KeyRing } from "./signing-keys.ts";

export interface IdentityDeps {
  readonly db: Database;
  readonly cipher: FieldCipher;
  readonly hasher: PasswordHasher;
  readonly commonPasswords: ReadonlySet<string>;
  readonly config: IdentityConfig;
  readonly keys: KeyRing;
  readonly tokens: TokenIssuer;
  /** The sign-in form's tokens (form-token.ts). */
  readonly forms: FormTokens;
  readonly now: () => Date;
  readonly log: Logger;
  /** The service's CloudEvents source, `/flotilla/identity`. */
  readonly source: string;
  readonly outbox: { enqueue(tx: Queryable, events: readonly CloudEvent[]): Promise<void> };
}

/** Column contexts for the field cipher (bound as AAD: a value copied to another column does not decrypt). */
export const FIELD = {
  email: "identity.accounts.email",
  phone: "identity.accounts.phone",
} as const;
