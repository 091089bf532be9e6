import type { DescMethod } from "@bufbuild/protobuf";

// Descriptors are immutable, so the path is worked out once per method.
const paths = new WeakMap<DescMethod, string>();

/** The Connect route of a method: `/flotilla.catalog.v1.CatalogService/GetEvent`. */
export function methodPath(method: DescMethod): string {
  let path = paths.get(method);
  if (path === undefined) {
    path = `/${method.parent.typeName}/${method.name}`;
    paths.set(method, path);
  }
  return path;
}
