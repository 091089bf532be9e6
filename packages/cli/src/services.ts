// The services that ship with Flotilla, and where each one's process entry is.
import { fileURLToPath } from "node:url";
import { catalogService } from "@flotilla/catalog";
import type { ServiceDefinition } from "@flotilla/kit";

export interface KnownService {
  definition: ServiceDefinition;
  /** The file that runs it as its own process. */
  main: string;
}

export const knownServices: Record<string, KnownService> = {
  catalog: { definition: catalogService as unknown as ServiceDefinition, main: fileURLToPath(import.meta.resolve("@flotilla/catalog/main")) },
};
