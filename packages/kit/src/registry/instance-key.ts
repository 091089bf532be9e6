import { kitErrors } from "../errors/index.ts";
import type { Instance } from "./types.ts";

// Registry keys are `<service>.<id>` and double as NATS subjects, so a dot or a
// wildcard inside a name would split it or widen a watch to other services.
const TOKEN = /^[-\w=/]+$/;

function check(field: "service" | "id", value: string): void {
  if (!TOKEN.test(value)) {
    const message = `${field} "${value}" may only hold letters, digits and - _ = /`;
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", message, { violations: [{ field, message }] });
  }
}

/** The key one instance is stored under, e.g. `catalog.catalog-3f9a1c`. */
export function instanceKey(instance: Instance): string {
  check("service", instance.service);
  check("id", instance.id);
  return `${instance.service}.${instance.id}`;
}

/** Validates a watch target: a service name or `*` for all services. */
export function checkWatchTarget(service: string): void {
  if (service !== "*") check("service", service);
}
