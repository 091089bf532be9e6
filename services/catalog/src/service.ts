import { catalogV1 } from "@flotilla/contracts";
import { defineService } from "@flotilla/kit";
import { ProjectionRunner } from "@flotilla/kit/internal";
import { catalogHandlers } from "./handlers.ts";
import { migrations } from "./migrations.ts";
import { cityCalendar } from "./projections.ts";
import { catalogEventStore } from "./publishing.ts";
import { seedCatalog } from "./seed.ts";

export const catalogService = defineService({
  name: "catalog",
  version: process.env.FLOTILLA_VERSION ?? "0.1.0",
  contract: catalogV1.CatalogService,
  migrations,
  create(ctx) {
    const es = catalogEventStore(ctx);
    const projections = new ProjectionRunner({ db: ctx.db, store: es, projections: [cityCalendar], log: ctx.log });
    projections.start();
    return {
      handlers: catalogHandlers(ctx.db, es),
      seed: () => seedCatalog(ctx.db, es),
      stop: () => projections.stop(),
    };
  },
});
