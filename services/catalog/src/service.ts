import { catalogV1 } from "@flotilla/contracts";
import { defineService } from "@flotilla/kit";
import { catalogHandlers } from "./handlers.ts";
import { migrations } from "./migrations.ts";
import { seedCatalog } from "./seed.ts";

export const catalogService = defineService({
  name: "catalog",
  version: process.env.FLOTILLA_VERSION ?? "0.1.0",
  contract: catalogV1.CatalogService,
  migrations,
  create: ({ db }) => ({ handlers: catalogHandlers(db), seed: () => seedCatalog(db) }),
});
