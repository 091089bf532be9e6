// The services that ship with Flotilla, and where each one's process entry is.
import { fileURLToPath } from "node:url";
import { catalogService } from "@flotilla/catalog";
import { identityService } from "@flotilla/identity";
import type { ServiceDefinition } from "@flotilla/kit";
import { messagingService } from "@flotilla/messaging";
import { notificationsService } from "@flotilla/notifications";

export interface KnownService {
  definition: ServiceDefinition;
  /** The file that runs it as its own process. */
  main: string;
}

export const knownServices: Record<string, KnownService> = {
  catalog: { definition: catalogService as unknown as ServiceDefinition, main: fileURLToPath(import.meta.resolve("@flotilla/catalog/main")) },
  identity: { definition: identityService as unknown as ServiceDefinition, main: fileURLToPath(import.meta.resolve("@flotilla/identity/main")) },
  messaging: { definition: messagingService as unknown as ServiceDefinition, main: fileURLToPath(import.meta.resolve("@flotilla/messaging/main")) },
  notifications: { definition: notificationsService as unknown as ServiceDefinition, main: fileURLToPath(import.meta.resolve("@flotilla/notifications/main")) },
};
