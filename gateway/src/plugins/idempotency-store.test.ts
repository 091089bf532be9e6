import { after } from "node:test";
import { Redis } from "ioredis";
import { idempotencyStoreConformance } from "./idempotency-store-conformance.ts";
import { MemoryIdempotencyStore } from "./idempotency-store-memory.ts";
import { RedisIdempotencyStore } from "./idempotency-store-redis.ts";

const redis = new Redis(process.env.FLOTILLA_TEST_REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
after(() => redis.disconnect());

idempotencyStoreConformance("memory", () => new MemoryIdempotencyStore());
idempotencyStoreConformance("redis", () => new RedisIdempotencyStore({ redis, keyPrefix: "flotilla-test:idem:" }));
