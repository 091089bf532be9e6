// kill -9 of a publishing service around the outbox: events committed with
// the state are delivered, and applied once, after it restarts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { type CrashWorld, startCrashWorld } from "../support/crash-world.ts";
import { runScript, waitUntil } from "../support/node-script.ts";

const PUBLISHER = join(import.meta.dirname, "fixtures", "publisher.ts");
const CONSUMER = join(import.meta.dirname, "fixtures", "consumer.ts");

let world: CrashWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const committedIds = (output: string[]) => output.map((line) => line.split(" ")[2] as string);

test("a publisher killed between commit and publish delivers its events once after a restart", async () => {
  world = await startCrashWorld("crash_pub");
  const w = world;
  const consumer = runScript(CONSUMER, w.env());
  await consumer.waitFor(/^ready$/m);

  // The relay is off: the events stay in the outbox, and the process dies there.
  const first = runScript(PUBLISHER, w.env({ CRASH_WRITES: "3" }));
  await first.waitFor(/^writes-done$/m);
  first.child.kill("SIGKILL");
  await first.exited;
  const ids = committedIds(first.lines(/^committed /));
  assert.equal(ids.length, 3);
  assert.equal(await w.number("publisher", "SELECT count(*) AS n FROM notes"), 3);
  const waiting = await w.query<{ id: string }>("publisher", "SELECT id FROM flotilla_outbox ORDER BY position");
  assert.deepEqual(
    waiting.map((r) => r.id),
    ids,
  );
  assert.equal(await w.number("consumer", "SELECT count(*) AS n FROM effects"), 0);

  const second = runScript(PUBLISHER, w.env({ CRASH_RELAY: "1" }));
  await waitUntil("the consumer applied the 3 events", async () => (await w.number("consumer", "SELECT count(*) AS n FROM effects")) >= 3);
  await waitUntil("the outbox is empty", async () => (await w.number("publisher", "SELECT count(*) AS n FROM flotilla_outbox")) === 0);
  // Time for a stray duplicate to show.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const applied = await w.query<{ event_id: string; n: string }>("consumer", "SELECT event_id, count(*) AS n FROM effects GROUP BY event_id ORDER BY event_id");
  assert.deepEqual(
    applied,
    [...ids].sort().map((id) => ({ event_id: id, n: "1" })),
  );
  await Promise.all([second.stop(), consumer.stop()]);
});

test("a publisher killed after the broker acked, before its rows were deleted, publishes again and the inbox applies once", async () => {
  // A short broker duplicate window: the republished copy is stored and
  // delivered, so it is the consumer's inbox that must drop it.
  world = await startCrashWorld("crash_ack");
  const w = world;
  const env = (extra: Record<string, string> = {}) => w.env({ CRASH_DUPLICATE_WINDOW_MS: "200", ...extra });
  const consumer = runScript(CONSUMER, env());
  await consumer.waitFor(/^ready$/m);

  const first = runScript(PUBLISHER, env({ CRASH_WRITES: "3", CRASH_RELAY: "1", CRASH_HANG_AFTER_PUBLISH: "1" }));
  await first.waitFor(/^published \d+$/m);
  first.child.kill("SIGKILL");
  await first.exited;
  await first.waitFor(/^committed 1 /m);
  const firstId = committedIds(first.lines(/^committed 1 /))[0] as string;
  // Published, but still in the outbox: the relay never got to delete it.
  const waiting = await w.query<{ id: string }>("publisher", "SELECT id FROM flotilla_outbox ORDER BY position");
  assert.ok(
    waiting.some((r) => r.id === firstId),
    "the acked event is still in the outbox",
  );
  await waitUntil("the consumer applied the published event", async () => (await w.number("consumer", "SELECT count(*) AS n FROM effects WHERE event_id = $1", [firstId])) === 1);

  const second = runScript(PUBLISHER, env({ CRASH_RELAY: "1" }));
  await waitUntil("the outbox is empty", async () => (await w.number("publisher", "SELECT count(*) AS n FROM flotilla_outbox")) === 0);
  // The database, not the killed process's output, says what was committed: a write can commit
  // (and its event leave) in the instant before SIGKILL, before it could print its line.
  const committed = await w.number("publisher", "SELECT count(*) AS n FROM notes");
  assert.ok(committed >= committedIds(first.lines(/^committed /)).length);
  await waitUntil("the consumer applied every committed event", async () => (await w.number("consumer", "SELECT count(DISTINCT event_id) AS n FROM effects")) === committed);
  await waitUntil("the republished copy reached the consumer", () => consumer.lines(new RegExp(`^delivered ${firstId} `)).length >= 2);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(await w.number("consumer", "SELECT count(*) AS n FROM effects"), committed, "no event applied twice");
  assert.equal(await w.number("consumer", "SELECT count(*) AS n FROM effects WHERE event_id = $1", [firstId]), 1);
  await Promise.all([second.stop(), consumer.stop()]);
});
