import assert from "node:assert/strict";
import { test } from "node:test";
import { nulFieldOf, refusingNul } from "./storable.ts";

test("the first string holding U+0000 is named by its proto path, through messages, lists and oneofs", () => {
  assert.equal(nulFieldOf({ $typeName: "x", conversationId: "c1", text: "fine" }), undefined);
  assert.equal(nulFieldOf({ conversationId: "c1", clientMessageId: "a\u0000" }), "client_message_id");
  assert.equal(nulFieldOf({ memberIds: ["bob", "c\u0000"] }), "member_ids[1]");
  assert.equal(nulFieldOf({ token: { case: "webPush", value: { endpoint: "https://x/\u0000" } } }), "web_push.endpoint");
  assert.equal(nulFieldOf({ preferences: { quietHours: { timeZone: "\u0000" } } }), "preferences.quiet_hours.time_zone");
  assert.equal(nulFieldOf({ data: new Uint8Array([0]), seq: 1n }), undefined, "bytes and numbers may hold zeros");
});

test("a guarded handler refuses such a request before it runs", async () => {
  let ran = 0;
  const send = async (req: { text: string }) => {
    ran += 1;
    return req.text;
  };
  const handlers = refusingNul({ send }, (field) => new Error(`bad ${field}`));
  assert.equal(await handlers.send({ text: "ok" }), "ok");
  await assert.rejects(handlers.send({ text: "n\u0000" }), /bad text/);
  assert.equal(ran, 1);
});
