import { kitErrors } from "../errors/index.ts";
import { redactUrl } from "../registry/redact-url.ts";
import { MemoryBus, type MemoryBusOptions } from "./memory.ts";
import { NatsBus, type NatsBusOptions } from "./nats.ts";
import type { EventBus } from "./types.ts";

export { type CreateEventOptions, createEvent, decodeEvent, eventTypeOf } from "./cloud-event.ts";
export { eventId } from "./event-id.ts";
export { MemoryBus, type MemoryBusOptions } from "./memory.ts";
export { NatsBus, type NatsBusOptions, type NatsBusTarget } from "./nats.ts";
export { decodeHeaderValue, encodeHeaderValue, fromNatsMessage, type NatsEventMessage, toNatsMessage } from "./nats-binding.ts";
export { eventSubject, natsConsumerName } from "./nats-names.ts";
export { DEFAULT_BACKOFF_MS, DEFAULT_CONCURRENCY } from "./subscribe-options.ts";
export type { CloudEvent, Delivery, DeliveryHandler, EventBus, SubscribeOptions, Subscription } from "./types.ts";

/** Options for whichever backend the URL picks; each ignores what it does not use. */
export type CreateBusOptions = NatsBusOptions & MemoryBusOptions;

/**
 * Resolves the event bus from config:
 *
 *   await createBus("memory");
 *   await createBus("nats://nats-a:4222,nats://nats-b:4222", { stream: "FLOTILLA_EVENTS" });
 */
export async function createBus(url: string, options: CreateBusOptions = {}): Promise<EventBus> {
  if (url === "memory") return new MemoryBus({ duplicateWindowMs: options.duplicateWindowMs });
  if (url.startsWith("nats://")) {
    const servers = url.split(",").map((s) => s.trim()).filter((s) => s !== "");
    return NatsBus.connect({ servers }, options);
  }
  throw kitErrors.create("KIT_ERR_UNKNOWN_BACKEND", `no event bus backend for "${redactUrl(url)}": expected "memory" or "nats://host:port[,nats://host:port...]"`);
}
