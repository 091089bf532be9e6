// Identity's settings, from FLOTILLA_* variables (docs/configuration.md).
import { int, loadConfig, str } from "@flotilla/kit";

export const identityConfigSchema = {
  publicUrl: str("FLOTILLA_PUBLIC_URL", "http://127.0.0.1:8080", "the public base URL, the tokens' issuer (no trailing slash)", /^https?:\/\/[^/\s]+(\/[^\s]*[^/\s])?$/),
  accessTokenTtlSec: int("FLOTILLA_ACCESS_TOKEN_TTL", 600, "access token lifetime in seconds", { min: 60, max: 900 }),
  refreshTokenTtlSec: int("FLOTILLA_REFRESH_TOKEN_TTL", 30 * 86_400, "refresh token (session) lifetime in seconds", { min: 3600, max: 365 * 86_400 }),
  keyRotationSec: int("FLOTILLA_SIGNING_KEY_ROTATION", 30 * 86_400, "age at which a new signing key replaces the active one, in seconds", { min: 3600 }),
  adminEmail: str("FLOTILLA_ADMIN_EMAIL", "", "email of the bootstrap admin account (distributed runtime)"),
  adminPassword: str("FLOTILLA_ADMIN_PASSWORD", "", "password of the bootstrap admin account"),
} as const;

export type IdentityConfig = ReturnType<typeof loadIdentityConfig>;

export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(identityConfigSchema, env);
}
