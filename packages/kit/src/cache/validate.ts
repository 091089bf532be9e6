import { kitErrors } from "../errors/index.ts";

// Namespaces become Redis key prefixes (`catalog:e:<key>`): a `:` inside one
// could make two services' keys collide, so only plain names are allowed.
const NAMESPACE = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

export function checkNamespace(namespace: string): string {
  if (!NAMESPACE.test(namespace)) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `cache namespace "${namespace}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return namespace;
}

/** A bad TTL is a bug in the caller, not a cache outage. */
export function checkTtl(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw kitErrors.create("KIT_ERR_INTERNAL", `cache ttlMs must be a positive integer, got ${ttlMs}`);
  return ttlMs;
}
