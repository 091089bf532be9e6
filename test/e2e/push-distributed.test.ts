// Issue 6, "what it must show" 2, in the distributed runtime: `flotilla up`
// on PostgreSQL and NATS JetStream, messaging and notifications in processes
// of their own. Messages are sent right after the conversation is created, so
// notifications may take `message_sent` before `members_changed` (two durable
// consumers, no order between them): the offline recipient still gets exactly
// one push per message, and the device token is sealed in notifications'
// database.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freePort, natsUrl, postgresUrl, scratchNats, uniqueName } from "../support/engines.ts";
import { getJson, type Running, runFlotilla } from "../support/processes.ts";
import { dropPrefix, queryService } from "../support/scratch-postgres.ts";
import { type PushWorld, startPushWorld } from "./push-world.ts";

const GRACE_MS = 1500;
const prefix = `${uniqueName("ft_push_")}_`;
const nats = scratchNats("ft_push");
const dataDir = mkdtempSync(join(tmpdir(), "flotilla-push-up-"));
let world: PushWorld;
let up: Running;
let base: string;

before(async () => {
  world = await startPushWorld(dataDir);
  const port = await freePort();
  up = runFlotilla(["up", "--gateway-port", String(port), "--database-url", postgresUrl, "--nats-url", natsUrl], {
    ...world.env(GRACE_MS),
    ...nats.env,
    FLOTILLA_DATABASE_PREFIX: prefix,
    FLOTILLA_DATA_DIR: join(dataDir, "up"),
  });
  base = await up.waitFor(/gateway\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000);
});

after(async () => {
  await up?.stop("SIGTERM");
  await world?.close();
  await nats.remove();
  await dropPrefix(prefix);
  rmSync(dataDir, { recursive: true, force: true });
});

const auth = (bearer: string) => ({ authorization: `Bearer ${bearer}`, "content-type": "application/json" });

/** Retries while the services are still registering behind the gateway (503), as an app would. */
async function post(path: string, bearer: string, body: unknown): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    const r = await getJson(`${base}${path}`, { method: "POST", headers: auth(bearer), body: JSON.stringify(body) });
    if (r.status === 200) return r.body;
    if (r.status !== 503 || attempt > 100) assert.fail(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test("distributed: an offline member gets one push per message sent straight after the conversation was created (whichever event notifications takes first); the token is sealed at rest", async () => {
  const [ana, ben] = await Promise.all([world.token("ana"), world.token("ben")]);
  const apnsToken = "cd".repeat(32);
  await post("/v1/devices", ben, { apnsToken, platform: "PLATFORM_IOS" });
  const created = (await post("/v1/conversations", ana, { kind: "CONVERSATION_KIND_DIRECT", memberIds: ["ben"] })) as { conversation: { conversationId: string } };
  const conversationId = created.conversation.conversationId;
  const sent: string[] = [];
  for (const text of ["first, straight after the conversation", "second", "third"]) {
    const r = (await post(`/v1/conversations/${conversationId}/messages`, ana, { clientMessageId: randomUUID(), text })) as { message: { messageId: string } };
    sent.push(r.message.messageId);
  }

  const end = Date.now() + 60_000;
  const pushed = () => world.apns.pushes.filter((p) => p.token === apnsToken).map((p) => String(p.payload.message_id));
  while (pushed().length < sent.length && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(pushed().sort(), [...sent].sort(), `one push per message\n${up.output().slice(-3000)}`);
  // Past another grace period and scheduler rounds: still one each.
  await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 500));
  assert.equal(pushed().length, sent.length, "no push twice");

  const devices = await queryService<{ token: string; token_index: string | null }>(prefix, "notifications", "SELECT token, token_index FROM devices");
  assert.equal(devices.length, 1);
  assert.ok(devices[0]!.token.startsWith("fe1.") && !devices[0]!.token.includes(apnsToken), "the token is sealed");
  assert.ok(devices[0]!.token_index);
  const members = await queryService<{ user_id: string }>(prefix, "notifications", "SELECT user_id FROM conversation_members WHERE conversation_id = $1 ORDER BY user_id", [conversationId]);
  assert.deepEqual(
    members.map((m) => m.user_id),
    ["ana", "ben"],
  );
});
