// kill -9 of a consuming service in the middle of its handler's transaction:
// the half-done work is rolled back, and the event is applied once after it
// restarts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { type CrashWorld, startCrashWorld } from "../support/crash-world.ts";
import { runScript, waitUntil } from "../support/node-script.ts";

const PUBLISHER = join(import.meta.dirname, "fixtures", "publisher.ts");
const CONSUMER = join(import.meta.dirname, "fixtures", "consumer.ts");

let world: CrashWorld | undefined;
after(async () => {
  await world?.close();
});

test("a consumer killed inside its handler's transaction applies the event once after a restart", async () => {
  world = await startCrashWorld("crash_sub");
  const w = world;
  // The broker redelivers an unacknowledged event after 2 s.
  const env = (extra: Record<string, string> = {}) => w.env({ CRASH_ACK_WAIT_MS: "2000", ...extra });
  const first = runScript(CONSUMER, env({ CRASH_HANG_IN_HANDLER: "1" }));
  await first.waitFor(/^ready$/m);
  const publisher = runScript(PUBLISHER, env({ CRASH_WRITES: "1", CRASH_RELAY: "1" }));
  const id = await publisher.waitFor(/^committed 1 (\S+)$/m);

  // The handler has written its effect, uncommitted, and waits: kill it there.
  assert.equal(await first.waitFor(/^in-handler (\S+)$/m), id);
  first.child.kill("SIGKILL");
  await first.exited;
  assert.equal(await w.number("consumer", "SELECT count(*) AS n FROM effects"), 0);
  assert.equal(await w.number("consumer", "SELECT count(*) AS n FROM flotilla_inbox"), 0);

  const second = runScript(CONSUMER, env());
  await waitUntil("the event is applied after the restart", async () => (await w.number("consumer", "SELECT count(*) AS n FROM effects")) >= 1);
  // A redelivery, not a new event.
  const attempt = Number(await second.waitFor(new RegExp(`^delivered ${id} (\\d+)$`, "m")));
  assert.ok(attempt >= 2, `delivered again as attempt ${attempt}`);
  // Time for a stray duplicate to show.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.deepEqual(await w.query("consumer", "SELECT event_id FROM effects"), [{ event_id: id }]);
  assert.deepEqual(await w.query("consumer", "SELECT consumer, event_id FROM flotilla_inbox"), [{ consumer: "crash-consumer.note-written", event_id: id }]);
  await Promise.all([second.stop(), publisher.stop()]);
});
