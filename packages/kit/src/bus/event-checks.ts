import { kitErrors } from "../errors/index.ts";
import type { CloudEvent } from "./types.ts";

// Event types become NATS subject tokens (`events.catalog.event_published.v1`),
// so both backends accept only what is a legal, wildcard-free subject.
const EVENT_TYPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

// A service publishes a handful of types, each checked again for every event:
// remember the ones that passed (bounded, so hostile input cannot grow it).
const knownGood = new Set<string>();
const KNOWN_GOOD_MAX = 1024;

export function checkEventType(type: unknown): asserts type is string {
  if (typeof type === "string" && knownGood.has(type)) return;
  if (typeof type !== "string" || !EVENT_TYPE.test(type)) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `invalid event type ${JSON.stringify(type)}: expected dot-separated tokens of letters, digits, "_" or "-"`);
  }
  if (knownGood.size < KNOWN_GOOD_MAX) knownGood.add(type);
}

/** Rejects an event the bus could not carry faithfully, before anything is stored. */
export function checkCloudEvent(event: CloudEvent): void {
  const missing = (["id", "source", "time", "dataschema"] as const).filter((k) => typeof event[k] !== "string" || event[k] === "");
  if (missing.length > 0) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `event ${String(event.id)} lacks ${missing.join(", ")}`);
  }
  if (event.specversion !== "1.0") {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `event ${event.id} has specversion ${String(event.specversion)}, expected "1.0"`);
  }
  if (event.datacontenttype !== "application/protobuf") {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `event ${event.id} has datacontenttype ${String(event.datacontenttype)}, expected "application/protobuf"`);
  }
  if (!(event.data instanceof Uint8Array)) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `event ${event.id} has no binary data`);
  }
  checkEventType(event.type);
}

/** A copy whose data no other holder can mutate (`new Uint8Array` copies; Buffer's `slice` would not). */
export function copyEvent(event: CloudEvent): CloudEvent {
  return { ...event, data: new Uint8Array(event.data) };
}
