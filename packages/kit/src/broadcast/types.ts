/** Called once per payload published on the topic, on this process. */
export type BroadcastHandler = (payload: Uint8Array) => void;

export interface BroadcastSubscription {
  /** Stops delivery to this handler; other subscriptions to the topic keep theirs. */
  unsubscribe(): Promise<void>;
}

/**
 * Fire-and-forget fan-out between replicas, e.g. "user 42 has a new message"
 * to whichever replica holds user 42's socket. NOT durable: a subscriber that
 * is not connected when a payload is published never gets it, so it suits
 * hints whose truth lives elsewhere (the messaging service re-reads missed
 * messages from its database by sequence number). Durable events go through
 * the outbox and the `EventBus` instead.
 *
 * Topics are dot-separated tokens of `[A-Za-z0-9_-]`: `user.YWxpY2U`.
 * Implementations side by side: `memory` (one process) and `nats` (core NATS
 * subjects `<prefix>.<topic>`, no JetStream).
 */
export interface Broadcast {
  /** Resolves once the payload is handed to the backend (not when anyone got it). */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  /** Resolves once the subscription is live: payloads published after that are delivered. */
  subscribe(topic: string, handler: BroadcastHandler): Promise<BroadcastSubscription>;
  close(): Promise<void>;
}
