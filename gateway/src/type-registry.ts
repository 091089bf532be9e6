import { createRegistry, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";

/**
 * Every type reachable from the services' files, for the JSON mapping of
 * `google.protobuf.Any` (which names its payload's type by URL).
 */
export function typeRegistryOf(services: readonly DescService[]): Registry {
  const files = new Set<DescFile>();
  const add = (file: DescFile): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const dependency of file.dependencies) add(dependency);
  };
  for (const service of services) add(service.file);
  return createRegistry(...files);
}
