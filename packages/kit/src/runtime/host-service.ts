// Brings one service definition to life on given backends: its database
// (migrated), its handlers, its router. Both runtimes use this; neither the
// service nor this code knows which runtime it is in.
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { migrate } from "../db/migrate.ts";
import type { Database, DatabaseProvider } from "../db/types.ts";
import type { ServiceDefinition, ServiceParts } from "../service/types.ts";
import { Router } from "../transport/router.ts";
import type { ServerInterceptor } from "../transport/types.ts";

export interface HostedService {
  readonly definition: ServiceDefinition;
  readonly db: Database;
  readonly router: Router;
  stop(): Promise<void>;
}

export interface HostOptions {
  provider: DatabaseProvider;
  log: Logger;
  mode: "embedded" | "distributed";
  interceptors?: readonly ServerInterceptor[];
  /** Run the service's sample-data hook (development only). */
  seed?: boolean;
}

export async function hostService<S extends DescService>(definition: ServiceDefinition<S>, options: HostOptions): Promise<HostedService> {
  const log = options.log.child({ service: definition.name });
  const db = await options.provider.open(definition.name);
  try {
    const { applied } = await migrate(db, definition.migrations);
    if (applied.length > 0) log.info({ applied }, "migrations applied");
    const parts: ServiceParts<S> = await definition.create({ name: definition.name, log, db, mode: options.mode });
    if (options.seed && parts.seed) await parts.seed();
    const router = new Router({ interceptors: options.interceptors ?? [] });
    router.add(definition.contract, parts.handlers);
    return {
      definition: definition as unknown as ServiceDefinition,
      db,
      router,
      async stop() {
        await parts.stop?.();
        await db.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}
