import type { RouteMeta } from "../types.ts";

// Asked on every request by several plugins: computed once per route.
const names = new WeakMap<RouteMeta, string>();

/** `flotilla.catalog.v1.CatalogService` → `catalog`: the name services register under and configs use. */
export function serviceNameOf(meta: RouteMeta): string {
  let name = names.get(meta);
  if (name === undefined) {
    const parts = meta.service.typeName.split(".");
    name = parts.length >= 3 && parts[0] === "flotilla" ? (parts[1] as string) : meta.service.typeName;
    names.set(meta, name);
  }
  return name;
}
