import { kitErrors } from "../errors/index.ts";
import type { Cache } from "./types.ts";

/** The part of an event that invalidation rules read. */
export interface InvalidationEvent {
  readonly type: string;
  readonly subject?: string;
}

/** A subscription to one event type; the handler's rejection asks the bus to redeliver. */
export type SubscribeFn = (type: string, handler: (event: InvalidationEvent) => Promise<void>) => Promise<{ stop(): Promise<void> }>;

/** `tag:<tag>` invalidates a tag, `key:<key>` deletes a key. */
export type InvalidationTarget = `tag:${string}` | `key:${string}`;

/** Per event type, what to invalidate when one arrives. */
export type InvalidationRules = Readonly<Record<string, (event: InvalidationEvent) => readonly InvalidationTarget[]>>;

/**
 * Keeps a cache in step with the events that change its sources:
 *
 *   const invalidation = await invalidateOn(cache, subscribe, {
 *     "catalog.event_published.v1": (e) => ["tag:catalog:events", `key:event:${e.subject}`],
 *   });
 *
 * with `subscribe` adapted from the bus in one line, e.g.
 *
 *   (type, handle) => bus.subscribe({ consumer: `catalog.cache.${type}`, type }, (d) => handle(d.event))
 *
 * A shared cache (Redis) needs one consumer per service; an in-process cache
 * (memory) needs one per process — give each replica its own consumer name, or
 * only one replica's cache would be invalidated. If the cache fails, the handler
 * rejects, so the bus redelivers the event and the invalidation is not lost.
 * Resolves once every subscription is active; if one fails, the others are stopped.
 */
export async function invalidateOn(cache: Cache, subscribe: SubscribeFn, rules: InvalidationRules): Promise<{ stop(): Promise<void> }> {
  const subscriptions: { stop(): Promise<void> }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
  };
  try {
    for (const [type, rule] of Object.entries(rules)) {
      subscriptions.push(await subscribe(type, (event) => invalidate(cache, rule(event))));
    }
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return { stop };
}

async function invalidate(cache: Cache, targets: readonly InvalidationTarget[]): Promise<void> {
  const tags: string[] = [];
  const keys: string[] = [];
  for (const target of targets) {
    if (target.startsWith("tag:")) tags.push(target.slice(4));
    else if (target.startsWith("key:")) keys.push(target.slice(4));
    else throw kitErrors.create("KIT_ERR_INTERNAL", `cache invalidation target "${target}" must start with "tag:" or "key:"`);
  }
  // Tags and keys in parallel: each is idempotent, so a redelivery after a partial failure is harmless.
  await Promise.all([tags.length > 0 ? cache.invalidateTags(tags) : undefined, keys.length > 0 ? cache.delete(keys) : undefined]);
}
