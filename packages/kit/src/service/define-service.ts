import type { DescService } from "@bufbuild/protobuf";
import { FlotillaError } from "../errors/index.ts";
import type { ServiceDefinition } from "./types.ts";

const NAME = /^[a-z][a-z0-9-]{1,30}$/;

/**
 * Declares a service. The runtime hosts it in-process (`flotilla dev`) or in
 * its own process (`flotilla up`) without the service knowing which.
 *
 *   export const catalog = defineService({
 *     name: "catalog", version: "1.0.0", contract: CatalogService,
 *     migrations, create: ({ db }) => ({ handlers: catalogHandlers(db) }),
 *   });
 */
export function defineService<S extends DescService>(definition: ServiceDefinition<S>): ServiceDefinition<S> {
  if (!NAME.test(definition.name)) {
    throw new FlotillaError({ code: "KIT_ERR_CONFIG_INVALID", rpc: "failed_precondition", message: `service name "${definition.name}" must match ${NAME}` });
  }
  const ids = definition.migrations.map((m) => m.id);
  const sorted = [...ids].sort();
  if (new Set(ids).size !== ids.length || ids.some((id, i) => id !== sorted[i])) {
    throw new FlotillaError({ code: "KIT_ERR_MIGRATION_FAILED", rpc: "internal", message: `${definition.name}: migration ids must be unique and in order: ${ids.join(", ")}` });
  }
  return Object.freeze(definition);
}
