import { kitErrors } from "../errors/index.ts";
import { MemoryRegistry, type MemoryWorld } from "./memory.ts";
import { NatsRegistry, type NatsRegistryOptions } from "./nats.ts";
import { redactUrl } from "./redact-url.ts";
import type { Registry } from "./types.ts";

export { MemoryRegistry, type MemoryRegistryOptions, MemoryWorld, type MemoryWorldOptions } from "./memory.ts";
export { NatsRegistry, type NatsRegistryOptions } from "./nats.ts";
export type { Instance, PausableRegistration, Registration, Registry, RegistryEvent, Watch } from "./types.ts";

/** Options for whichever backend the URL picks; each ignores what it does not use. */
export type CreateRegistryOptions = Omit<NatsRegistryOptions, "servers" | "connection"> & {
  /** memory only: share a world with other in-process registries. */
  world?: MemoryWorld;
};

/**
 * Resolves a registry from config:
 *
 *   await createRegistry("memory");
 *   await createRegistry("nats://nats-a:4222,nats://nats-b:4222", { ttlMs: 5000 });
 */
export async function createRegistry(url: string, options: CreateRegistryOptions = {}): Promise<Registry> {
  const { world, ...nats } = options;
  if (url === "memory") return new MemoryRegistry({ world, ttlMs: nats.ttlMs, onError: nats.onError });
  if (url.startsWith("nats://")) {
    const servers = url.split(",").map((s) => s.trim()).filter((s) => s !== "");
    return NatsRegistry.connect({ servers, ...nats });
  }
  throw kitErrors.create("KIT_ERR_UNKNOWN_BACKEND", `no registry backend for "${redactUrl(url)}": expected "memory" or "nats://host:port[,nats://host:port...]"`);
}
