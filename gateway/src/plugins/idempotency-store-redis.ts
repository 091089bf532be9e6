import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { type BeginResult, type IdempotencyStore, resultOf, type StoredEntry, type StoredResponse } from "./idempotency-store.ts";

// Complete and release act only while the caller's token still holds the key:
// a request that outlived its claim must not overwrite the one that took over.
const COMPLETE = `
local v = redis.call("GET", KEYS[1])
if v and cjson.decode(v).t == ARGV[1] then redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) return 1 end
return 0`;
const RELEASE = `
local v = redis.call("GET", KEYS[1])
if v and cjson.decode(v).t == ARGV[1] then redis.call("DEL", KEYS[1]) return 1 end
return 0`;

/** Shared by every gateway replica (distributed runtime). The client is the caller's to close. */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: { redis: Redis; keyPrefix?: string }) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix ?? "flotilla:idem:";
  }

  async begin(key: string, fingerprint: string, lockMs: number): Promise<BeginResult> {
    const token = randomUUID();
    const running: StoredEntry = { s: "running", t: token, f: fingerprint };
    // Two tries: the holder may finish (release) between our SET and GET.
    for (let i = 0; i < 2; i++) {
      const claimed = await this.#redis.set(this.#prefix + key, JSON.stringify(running), "PX", lockMs, "NX");
      if (claimed === "OK") return { state: "started", token };
      const existing = await this.#redis.get(this.#prefix + key);
      if (existing !== null) return resultOf(JSON.parse(existing) as StoredEntry);
    }
    return { state: "running", fingerprint };
  }

  async complete(key: string, token: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const done: StoredEntry = { s: "done", t: token, f: fingerprint, r: response };
    await this.#redis.eval(COMPLETE, 1, this.#prefix + key, token, JSON.stringify(done), ttlMs);
  }

  async release(key: string, token: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#prefix + key, token);
  }

  async close(): Promise<void> {}
}
