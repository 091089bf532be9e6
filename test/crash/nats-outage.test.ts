// NATS stopped for 20 s under steady writes: every write is accepted (the
// outbox needs only the database), and once NATS is back every event reaches
// the consumer and is applied exactly once.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type CrashWorld, startCrashWorld } from "../support/crash-world.ts";
import { runScript, waitUntil } from "../support/node-script.ts";

const PUBLISHER = join(import.meta.dirname, "fixtures", "publisher.ts");
const CONSUMER = join(import.meta.dirname, "fixtures", "consumer.ts");
const WRITES = 240;
const OUTAGE_MS = 20_000;

let world: CrashWorld | undefined;
after(async () => {
  await world?.close();
});

test("no accepted write and no event is lost while NATS is down for 20 s", async () => {
  world = await startCrashWorld("crash_nats");
  const w = world;
  const consumer = runScript(CONSUMER, w.env());
  await consumer.waitFor(/^ready$/m);
  const writer = runScript(PUBLISHER, w.env({ CRASH_WRITES: String(WRITES), CRASH_WRITE_INTERVAL_MS: "100", CRASH_RELAY: "1" }));
  await writer.waitFor(/^committed 30 /m);

  await w.nats.kill();
  const beforeOutage = writer.lines(/^committed /).length;
  await sleep(OUTAGE_MS);
  const duringOutage = writer.lines(/^committed /).length - beforeOutage;
  await w.nats.restart();

  await writer.waitFor(/^writes-done$/m, 30_000);
  assert.deepEqual(writer.lines(/^write-failed/), [], "every write was accepted");
  // 200 at the nominal pace; a loaded machine slows the writer down, but a
  // write path that waited for the broker would stall after the first few.
  assert.ok(duringOutage >= 20, `writes went on while NATS was down (${duringOutage})`);
  const ids = writer.lines(/^committed /).map((line) => line.split(" ")[2] as string);
  assert.equal(ids.length, WRITES);
  assert.equal(await w.number("publisher", "SELECT count(*) AS n FROM notes"), WRITES);

  await waitUntil(
    "every event is applied",
    async () => (await w.number("consumer", "SELECT count(DISTINCT event_id) AS n FROM effects")) === WRITES,
    30_000,
  );
  await waitUntil("the outbox is empty", async () => (await w.number("publisher", "SELECT count(*) AS n FROM flotilla_outbox")) === 0);
  // Time for a stray duplicate to show.
  await sleep(1000);
  assert.equal(await w.number("consumer", "SELECT count(*) AS n FROM effects"), WRITES, "no event applied twice");
  const applied = await w.query<{ event_id: string }>("consumer", "SELECT event_id FROM effects");
  assert.deepEqual(new Set(applied.map((r) => r.event_id)), new Set(ids));
  await Promise.all([writer.stop(), consumer.stop()]);
});
