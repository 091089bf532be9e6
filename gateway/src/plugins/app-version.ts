// Minimum app version per platform. Mobile apps cannot be updated from the
// server: when an old build must stop (a breaking API change, a security fix),
// it gets 426 with an upgrade hint the app can show ("Update from the store").
//
//   X-App-Platform: ios      X-App-Version: 2.3.9
//   → 426 { code: "GW_ERR_UPGRADE_REQUIRED", upgrade: { platform: "ios", minimumVersion: "2.4.0", storeUrl: "https://apps.apple.com/..." } }
//
// Requests without the headers (web, scripts) pass: the check is for apps
// that identify themselves.
import type { GatewayConfig } from "../config.ts";
import { gatewayErrors } from "../errors.ts";
import { PROBLEM_CONTENT_TYPE, problemOf } from "../problem.ts";
import type { GatewayPlugin } from "../types.ts";

export interface AppVersionOptions {
  /** Read per request (hot reload of minimum versions). */
  readonly settings: () => GatewayConfig["appVersions"];
}

// `2.4.1`, `2.4.1-beta.2`, `2.4.1+345`: the numeric core is compared.
const VERSION = /^(\d{1,9}(?:\.\d{1,9}){0,3})(?:[-+][0-9A-Za-z.-]{1,64})?$/;
const PLATFORM = /^[A-Za-z0-9._-]{1,64}$/;

/** The numeric parts of a version, or undefined when it is not one. */
export function parseVersion(text: string): number[] | undefined {
  const match = VERSION.exec(text.trim());
  return match === null ? undefined : match[1]!.split(".").map(Number);
}

/** Negative when a < b; missing parts count as 0 (`2.4` = `2.4.0`). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function appVersion(options: AppVersionOptions): GatewayPlugin {
  // Per settings object (a reload makes a new one): platform names compared case-insensitively.
  let indexedFrom: GatewayConfig["appVersions"] | undefined;
  let rules = new Map<string, { minimum: number[]; minimumText: string; storeUrl: string }>();
  const ruleFor = (platform: string) => {
    const settings = options.settings();
    if (settings !== indexedFrom) {
      rules = new Map(
        Object.entries(settings.platforms).map(([name, rule]) => [name.toLowerCase(), { minimum: parseVersion(rule.minimum) ?? [0], minimumText: rule.minimum, storeUrl: rule.storeUrl }]),
      );
      indexedFrom = settings;
    }
    return rules.get(platform.toLowerCase());
  };

  return (api) => {
    // Callback style: synchronous work, so no promise per request; a 426 is sent here and the request stops.
    api.addHook("onRequest", (request, reply, done) => {
      if (request.routeMeta === null) return done();
      const platform = request.headers["x-app-platform"];
      const version = request.headers["x-app-version"];
      if (platform === undefined || version === undefined) return done();
      if (typeof platform !== "string" || !PLATFORM.test(platform)) {
        return done(gatewayErrors.create("GW_ERR_APP_VERSION_INVALID", "X-App-Platform must be a platform name such as ios or android"));
      }
      const parsed = typeof version === "string" ? parseVersion(version) : undefined;
      if (parsed === undefined) return done(gatewayErrors.create("GW_ERR_APP_VERSION_INVALID", "X-App-Version must be a dotted version such as 2.4.1"));
      const rule = ruleFor(platform);
      if (rule === undefined || compareVersions(parsed, rule.minimum) >= 0) return done();

      const error = gatewayErrors.create("GW_ERR_UPGRADE_REQUIRED", `version ${version as string} of the ${platform} app is no longer supported; update to ${rule.minimumText} or later`);
      const problem = problemOf(error, request.id);
      const body = { ...problem.body, upgrade: { platform, minimumVersion: rule.minimumText, ...(rule.storeUrl !== "" ? { storeUrl: rule.storeUrl } : {}) } };
      reply.code(problem.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
    });
  };
}
