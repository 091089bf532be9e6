import { broadcastConformance } from "./conformance.ts";
import { MemoryBroadcast, MemoryBroadcastHub } from "./memory.ts";

broadcastConformance("memory", async () => {
  const hub = new MemoryBroadcastHub();
  const a = new MemoryBroadcast({ hub });
  const b = new MemoryBroadcast({ hub });
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});
