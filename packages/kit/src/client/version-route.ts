// Canary and blue/green routing: a caller (the gateway's canary plugin) names
// the version an attempt should reach in the call's metadata, and the client
// picks among the instances of that version only (Instance.version, from the
// registry). With no instance of that version alive, every instance is used:
// a canary that died must not take its users' traffic down with it.
import type { Instance } from "../registry/types.ts";
import type { Metadata } from "../transport/types.ts";

/** Metadata key naming the version to route to, e.g. `{ "x-flotilla-route-version": "1.4.0" }`. */
export const ROUTE_VERSION_KEY = "x-flotilla-route-version";

/** The instances a call may go to: those of the requested version, or all when none is requested or alive. */
export function routeByVersion(instances: readonly Instance[], metadata: Metadata): readonly Instance[] {
  const version = metadata[ROUTE_VERSION_KEY];
  if (version === undefined || version === "") return instances;
  const matching = instances.filter((instance) => instance.version === version);
  return matching.length > 0 ? matching : instances;
}
