// How a failing handler is logged: a retryable FlotillaError on the first
// attempts is expected (an event ahead of another it needs) and logged at info;
// anything else, or a retryable error that persists, at warn.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { pino } from "pino";
import { MemoryBus } from "../bus/memory.ts";
import { migrate } from "../db/migrate.ts";
import { PgliteProvider } from "../db/pglite.ts";
import type { Database } from "../db/types.ts";
import { defineErrors } from "../errors/index.ts";
import { testEvent, testType, waitUntil } from "../outbox/test-fixtures.ts";
import { consume, QUIET_ATTEMPTS } from "./consume.ts";
import { inboxMigrations } from "./migrations.ts";

const errors = defineErrors({
  TEST_ERR_NOT_YET: { rpc: "unavailable", retryable: true, doc: "The event needs another that has not been handled." },
  TEST_ERR_BROKEN: { rpc: "internal", retryable: false, doc: "A bug." },
});

const provider = new PgliteProvider();
let db: Database;
const bus = new MemoryBus();

before(async () => {
  db = await provider.open("consume-logging");
  await migrate(db, inboxMigrations);
});
after(async () => {
  await bus.close();
  await db.close();
  await provider.close();
});

function capture(): { log: pino.Logger; lines: { level: number; attempt?: number; msg: string }[] } {
  const lines: { level: number; attempt?: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

const INFO = 30;
const WARN = 40;

test("a retryable error is logged at info on the first attempts and at warn once it persists; any other error at warn", async () => {
  for (const [code, expected] of [
    ["TEST_ERR_NOT_YET", Array.from({ length: QUIET_ATTEMPTS + 1 }, (_, i) => (i + 1 < QUIET_ATTEMPTS ? INFO : WARN))],
    ["TEST_ERR_BROKEN", Array.from({ length: QUIET_ATTEMPTS + 1 }, () => WARN)],
  ] as const) {
    const { log, lines } = capture();
    const type = testType("logging");
    let attempts = 0;
    const subscription = await consume(db, bus, { consumer: `c-${code}`, type, log, backoffMs: [5], maxAttempts: 10 }, async () => {
      attempts++;
      if (attempts <= QUIET_ATTEMPTS + 1) throw errors.create(code, "not now");
    });
    await bus.publish([testEvent(type)]);
    await waitUntil("handled after the failures", () => attempts > QUIET_ATTEMPTS + 1);
    await subscription.stop();
    const failures = lines.filter((l) => l.msg.startsWith("event handler failed"));
    assert.deepEqual(
      failures.map((l) => l.level),
      expected,
      code,
    );
  }
});
