// The admin account of `flotilla dev`: identity creates it at start from
// FLOTILLA_ADMIN_EMAIL / FLOTILLA_ADMIN_PASSWORD (the same bootstrap as in the
// distributed runtime). Locally the password is generated once and kept in the
// data folder, so the printed credentials stay valid across restarts.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DEV_ADMIN_EMAIL = "admin@flotilla.localhost";

/** Sets the bootstrap variables unless the user set them; returns what to print. */
export function useDevAdmin(env: NodeJS.ProcessEnv, dataDir: string): { email: string; password: string } {
  if (env.FLOTILLA_ADMIN_EMAIL && env.FLOTILLA_ADMIN_PASSWORD) return { email: env.FLOTILLA_ADMIN_EMAIL, password: "(from FLOTILLA_ADMIN_PASSWORD)" };
  const file = join(dataDir, "dev-admin.json");
  let admin: { email: string; password: string };
  if (existsSync(file)) {
    admin = JSON.parse(readFileSync(file, "utf8")) as { email: string; password: string };
  } else {
    admin = { email: DEV_ADMIN_EMAIL, password: randomBytes(12).toString("base64url") };
    writeFileSync(file, `${JSON.stringify(admin, null, 2)}\n`, { mode: 0o600 });
  }
  env.FLOTILLA_ADMIN_EMAIL = admin.email;
  env.FLOTILLA_ADMIN_PASSWORD = admin.password;
  return admin;
}
