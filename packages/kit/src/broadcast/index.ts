import { kitErrors } from "../errors/index.ts";
import { redactUrl } from "../registry/redact-url.ts";
import { MemoryBroadcast, type MemoryBroadcastHub } from "./memory.ts";
import { NatsBroadcast } from "./nats.ts";
import type { Broadcast } from "./types.ts";

export { MemoryBroadcast, MemoryBroadcastHub } from "./memory.ts";
export { NatsBroadcast, type NatsBroadcastOptions } from "./nats.ts";
export { checkTopic, topicToken } from "./topic.ts";
export type { Broadcast, BroadcastHandler, BroadcastSubscription } from "./types.ts";

/**
 * Resolves a broadcast backend from config:
 *
 *   await createBroadcast("memory");
 *   await createBroadcast("nats://nats-a:4222,nats://nats-b:4222", { prefix: "broadcast" });
 */
export async function createBroadcast(url: string, options: { prefix?: string; hub?: MemoryBroadcastHub } = {}): Promise<Broadcast> {
  if (url === "memory") return new MemoryBroadcast(options.hub ? { hub: options.hub } : {});
  if (url.startsWith("nats://")) {
    const servers = url.split(",").map((s) => s.trim()).filter((s) => s !== "");
    return NatsBroadcast.connect({ servers, ...(options.prefix ? { prefix: options.prefix } : {}) });
  }
  throw kitErrors.create("KIT_ERR_UNKNOWN_BACKEND", `no broadcast backend for "${redactUrl(url)}": expected "memory" or "nats://host:port[,nats://host:port...]"`);
}
