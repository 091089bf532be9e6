// Bad input the contract's validation lets through: a string with U+0000
// (PostgreSQL's text and jsonb cannot hold it) is refused with a typed
// invalid_argument naming the field, not an internal error.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { notificationsV1 } from "@flotilla/contracts";
import { FlotillaError } from "@flotilla/kit";
import { PgliteProvider } from "@flotilla/kit/internal";
import { type Harness, startHarness } from "./harness.ts";

let provider: PgliteProvider;
let h: Harness;

before(async () => {
  provider = new PgliteProvider();
  h = await startHarness(provider);
});
after(async () => {
  await h.stop();
  await provider.close();
});

const nul = (field: string) => (e: unknown) =>
  e instanceof FlotillaError && e.code === "KIT_ERR_INVALID_ARGUMENT" && e.rpc === "invalid_argument" && e.violations.some((v) => v.field === field);

test("U+0000 in a request string is refused naming the field; the caller's data is unchanged", async () => {
  await h.call("updatePreferences", { preferences: { mutedConversationIds: ["c1"] } }, "u-nul");
  const cases: Array<[keyof typeof notificationsV1.NotificationsService.method, object, string]> = [
    ["deleteDevice", { deviceId: "d\u0000" }, "device_id"],
    ["listDeliveries", { notificationId: "n\u0000" }, "notification_id"],
    ["updatePreferences", { preferences: { mutedConversationIds: ["c2", "c\u0000"] } }, "preferences.muted_conversation_ids[1]"],
  ];
  for (const [method, input, field] of cases) await assert.rejects(h.call(method, input, "u-nul"), nul(field), `${method} ${field}`);
  const prefs = (await h.call("getPreferences", {}, "u-nul")) as notificationsV1.GetPreferencesResponse;
  assert.deepEqual(prefs.preferences!.mutedConversationIds, ["c1"]);
});
