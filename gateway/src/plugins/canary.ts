// Canary and blue/green routing by instance version. Per service, weights
// split callers between versions; a caller stays on its version (a hash of its
// user, else app key, else IP — with the service name, so one user is not the
// canary of every service at once). Testers pick a version with the
// `X-Flotilla-Version` header, among the versions configured for the service.
// The choice travels to the kit client in the call metadata, whose balancer
// picks only instances of that version (packages/kit/src/client/version-route.ts).
//
//   canary({ settings: () => config.current.canary })
//   // { services: { catalog: { "1.4.0": 90, "1.5.0": 10 } } }  — 10 % of callers on 1.5.0
//   // { services: { catalog: { "blue": 0, "green": 100 } } }   — blue/green switch
//
// Weights are read per request: changing them (config hot reload) moves
// callers without a restart. Weights are relative; a service with no weights
// is routed to every instance.
import { createHash } from "node:crypto";
import { ROUTE_VERSION_KEY } from "@flotilla/kit/internal";
import type { GatewayPlugin } from "../types.ts";
import { callerKey, callerOf } from "./caller.ts";
import { serviceNameOf } from "./service-name.ts";

export interface CanarySettings {
  /** Service name → version → weight (relative, ≥ 0). */
  readonly services: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Honour `X-Flotilla-Version` (for testers). @default true */
  readonly header: boolean;
}

export const defaultCanary: CanarySettings = { services: {}, header: true };

export const VERSION_HEADER = "x-flotilla-version";
export { ROUTE_VERSION_KEY };

/** The version for a caller: stable for the same caller and weights. */
export function pickVersion(weights: Readonly<Record<string, number>>, sticky: string): string | undefined {
  const entries = Object.entries(weights)
    .filter(([, w]) => w > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (total <= 0) return undefined;
  // 32 bits of a hash: uniform enough, and the same on every gateway replica.
  const point = (createHash("sha256").update(sticky).digest().readUInt32BE(0) / 2 ** 32) * total;
  let upTo = 0;
  for (const [version, weight] of entries) {
    upTo += weight;
    if (point < upTo) return version;
  }
  return entries.at(-1)?.[0];
}

export function canary(options: { settings: () => CanarySettings }): GatewayPlugin {
  return (api) => {
    // Callback style: synchronous work, so no promise per request.
    api.addHook("preHandler", (request, _reply, done) => {
      const meta = request.routeMeta;
      const settings = options.settings();
      const service = meta === null ? undefined : serviceNameOf(meta);
      const weights = service !== undefined && Object.hasOwn(settings.services, service) ? settings.services[service] : undefined;
      if (weights === undefined) return done();
      const asked = request.headers[VERSION_HEADER];
      const version =
        settings.header && typeof asked === "string" && Object.hasOwn(weights, asked) ? asked : pickVersion(weights, `${service}\n${callerKey(callerOf(request))}`);
      if (version !== undefined) request.callMetadata[ROUTE_VERSION_KEY] = version;
      done();
    });
  };
}
