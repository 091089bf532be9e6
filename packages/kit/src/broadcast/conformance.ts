// One suite for every Broadcast backend: memory and NATS run the same tests.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import type { Broadcast } from "./types.ts";

/** Two handles on one backend, standing for two replicas. */
export interface BroadcastWorld {
  a: Broadcast;
  b: Broadcast;
  close(): Promise<void>;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (p: Uint8Array) => new TextDecoder().decode(p);

/** Collects payloads; `until` resolves when one equals `wanted`. */
function inbox() {
  const got: string[] = [];
  const waiters: Array<{ wanted: string; resolve: () => void }> = [];
  return {
    got,
    handler: (p: Uint8Array) => {
      const s = str(p);
      got.push(s);
      for (const w of waiters.filter((w) => w.wanted === s)) w.resolve();
    },
    until(wanted: string, timeoutMs = 5000): Promise<void> {
      if (got.includes(wanted)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`"${wanted}" not received; got ${JSON.stringify(got)}`)), timeoutMs);
        waiters.push({
          wanted,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

export function broadcastConformance(name: string, open: () => Promise<BroadcastWorld>): void {
  describe(`Broadcast conformance: ${name}`, () => {
    const topic = () => `t.${randomUUID()}`;

    test("a payload published on one replica reaches subscribers on both", async () => {
      const w = await open();
      const t = topic();
      const onA = inbox();
      const onB = inbox();
      await w.a.subscribe(t, onA.handler);
      await w.b.subscribe(t, onB.handler);
      await w.a.publish(t, text("hello"));
      await Promise.all([onA.until("hello"), onB.until("hello")]);
      await w.close();
    });

    test("payloads of one publisher arrive in order, and only on their topic", async () => {
      const w = await open();
      const [t1, t2] = [topic(), topic()];
      const one = inbox();
      const two = inbox();
      await w.b.subscribe(t1, one.handler);
      await w.b.subscribe(t2, two.handler);
      for (let i = 0; i < 50; i++) await w.a.publish(t1, text(String(i)));
      await w.a.publish(t2, text("end"));
      await one.until("49");
      await two.until("end");
      assert.deepEqual(one.got, Array.from({ length: 50 }, (_, i) => String(i)));
      assert.deepEqual(two.got, ["end"]);
      await w.close();
    });

    test("nothing is stored: a payload published before subscribing is never delivered", async () => {
      const w = await open();
      const t = topic();
      await w.a.publish(t, text("early"));
      // A barrier: once A hears its own later payload back, "early" has passed through the backend.
      const barrier = topic();
      const echo = inbox();
      await w.a.subscribe(barrier, echo.handler);
      await w.a.publish(barrier, text("barrier"));
      await echo.until("barrier");
      const box = inbox();
      await w.b.subscribe(t, box.handler);
      await w.a.publish(t, text("late"));
      await box.until("late");
      assert.deepEqual(box.got, ["late"]);
      await w.close();
    });

    test("unsubscribe stops one subscription and leaves the others", async () => {
      const w = await open();
      const t = topic();
      const gone = inbox();
      const kept = inbox();
      const sub = await w.b.subscribe(t, gone.handler);
      await w.b.subscribe(t, kept.handler);
      await w.a.publish(t, text("1"));
      await Promise.all([gone.until("1"), kept.until("1")]);
      await sub.unsubscribe();
      await w.a.publish(t, text("2"));
      await kept.until("2");
      assert.deepEqual(gone.got, ["1"]);
      await w.close();
    });

    test("a topic with wildcards, spaces or empty tokens is refused", async () => {
      const w = await open();
      for (const bad of ["", "a..b", "a.*", "a.>", "has space", ".a", "a."]) {
        await assert.rejects(w.a.publish(bad, text("x")), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT", bad);
        await assert.rejects(w.a.subscribe(bad, () => {}), (e) => e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT", bad);
      }
      await w.close();
    });
  });
}
