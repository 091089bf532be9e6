import { randomUUID } from "node:crypto";
import { type BeginResult, type IdempotencyStore, resultOf, type StoredEntry, type StoredResponse } from "./idempotency-store.ts";

/** In this process (embedded runtime); entries expire lazily and by a sweep when the map grows. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, { entry: StoredEntry; expiresAt: number }>();
  readonly #now: () => number;
  readonly #maxEntries: number;

  constructor(options: { now?: () => number; maxEntries?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  #live(key: string): StoredEntry | undefined {
    const held = this.#entries.get(key);
    if (held === undefined) return undefined;
    if (held.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return held.entry;
  }

  async begin(key: string, fingerprint: string, lockMs: number): Promise<BeginResult> {
    const existing = this.#live(key);
    if (existing !== undefined) return resultOf(existing);
    if (this.#entries.size >= this.#maxEntries) this.#sweep();
    const token = randomUUID();
    this.#entries.set(key, { entry: { s: "running", t: token, f: fingerprint }, expiresAt: this.#now() + lockMs });
    return { state: "started", token };
  }

  async complete(key: string, token: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    if (this.#live(key)?.t !== token) return;
    this.#entries.set(key, { entry: { s: "done", t: token, f: fingerprint, r: response }, expiresAt: this.#now() + ttlMs });
  }

  async release(key: string, token: string): Promise<void> {
    if (this.#live(key)?.t === token) this.#entries.delete(key);
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, held] of this.#entries) if (held.expiresAt <= now) this.#entries.delete(key);
    // Still full of live entries: drop the oldest, as an LRU would.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(key);
    }
  }
}
