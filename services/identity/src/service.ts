import { getOption } from "@bufbuild/protobuf";
import { allServices, identityV1, optionsV1 } from "@flotilla/contracts";
import { createFieldCipher, defineService, envKeyProvider, type KeyProvider } from "@flotilla/kit";
import { CLOCK_TOLERANCE_SEC, tokenIssuer } from "./access-tokens.ts";
import { ensureAdmin } from "./accounts.ts";
import { loadIdentityConfig } from "./config.ts";
import type { IdentityDeps } from "./deps.ts";
import { FORM_TOKEN_DOMAIN, formTokens } from "./form-token.ts";
import { identityHandlers } from "./handlers.ts";
import { migrations } from "./migrations.ts";
import { loadCommonPasswords } from "./password-policy.ts";
import { argon2Hasher, type PasswordHasher } from "./passwords.ts";
import { reencryptIdentity } from "./reencrypt.ts";
import { KeyRing } from "./signing-keys.ts";
import { putRole } from "./store.ts";

export interface IdentityOptions {
  /** Master keys for the field cipher; default: FLOTILLA_MASTER_KEY(S) from the environment. */
  keys?: KeyProvider;
  /** Configuration source; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The clock (tests move it to pass blocks and expiries without waiting). */
  now?: () => Date;
  hasher?: PasswordHasher;
}

/** The identity service; `identityService` is it with the defaults. */
export function createIdentityService(options: IdentityOptions = {}) {
  return defineService({
    name: "identity",
    version: process.env.FLOTILLA_VERSION ?? "0.1.0",
    contract: identityV1.IdentityService,
    migrations,
    async create(ctx) {
      const env = options.env ?? process.env;
      const config = loadIdentityConfig(env);
      const masterKeys = options.keys ?? envKeyProvider(env);
      const cipher = createFieldCipher({ keys: masterKeys });
      const now = options.now ?? (() => new Date());
      const keys = new KeyRing({
        db: ctx.db,
        cipher,
        rotationMs: config.keyRotationSec * 1000,
        // A retired key stays published as long as a token it signed can live, plus verifiers' skew.
        overlapMs: (config.accessTokenTtlSec + CLOCK_TOLERANCE_SEC) * 1000,
        now,
      });
      const deps: IdentityDeps = {
        db: ctx.db,
        cipher,
        hasher: options.hasher ?? argon2Hasher(),
        commonPasswords: loadCommonPasswords(),
        config,
        keys,
        tokens: tokenIssuer({ keys, issuer: config.publicUrl, ttlSec: config.accessTokenTtlSec, now }),
        // HKDF from the master key, in a domain of its own: every replica derives the same key.
        forms: formTokens({ key: masterKeys.indexKey(FORM_TOKEN_DOMAIN), now }),
        now,
        log: ctx.log,
        source: ctx.source,
        outbox: ctx.outbox,
      };
      await keys.active();
      // The admin role holds every permission a contract declares, so new services need no migration here.
      await putRole(ctx.db, "admin", declaredPermissions());
      if (config.adminEmail !== "" && config.adminPassword !== "") {
        await ensureAdmin(deps, config.adminEmail, config.adminPassword);
        ctx.log.info("bootstrap admin ensured");
      }
      // After a master-key rotation, rewrite what is still under an old key, in the background.
      const reencryption = new AbortController();
      const rewriting = reencryptIdentity(ctx.db, cipher, masterKeys.currentKeyId(), reencryption.signal).then(
        (done) => {
          const rewritten = done.accounts.rewritten + done.signingKeys.rewritten;
          if (rewritten > 0) ctx.log.info({ accounts: done.accounts.rewritten, signingKeys: done.signingKeys.rewritten }, "re-encrypted under the current master key");
        },
        (error: unknown) => {
          if (!reencryption.signal.aborted) ctx.log.warn({ err: error }, "re-encryption stopped; it resumes at the next start");
        },
      );
      return {
        handlers: identityHandlers(deps),
        async stop() {
          reencryption.abort();
          await rewriting;
        },
      };
    },
  });
}

export const identityService = createIdentityService();

/** Every permission the platform's contracts require, plus identity's own. */
export function declaredPermissions(): string[] {
  const all = new Set<string>(["identity:admin"]);
  for (const service of allServices) {
    for (const method of service.methods) for (const p of getOption(method, optionsV1.access).permissions) all.add(p);
  }
  return [...all].sort();
}
