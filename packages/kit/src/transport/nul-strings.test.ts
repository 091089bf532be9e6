import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { catalogV1, messagingV1, notificationsV1 } from "@flotilla/contracts";
import { FlotillaError } from "../errors/index.ts";
import { nulStringField } from "./nul-strings.ts";
import { Router } from "./router.ts";
import { CatalogService, fakeCatalog, validCreateRequest } from "./test-fixtures.ts";

describe("nulStringField", () => {
  it("finds U+0000 in a plain field, a list item and a oneof, named by proto paths", () => {
    const event = create(catalogV1.CreateEventRequestSchema, { ...validCreateRequest(), venue: "Hall\u0000" });
    assert.equal(nulStringField(catalogV1.CreateEventRequestSchema, event), "venue");
    const conversation = create(messagingV1.CreateConversationRequestSchema, { memberIds: ["a", "b\u0000"] });
    assert.equal(nulStringField(messagingV1.CreateConversationRequestSchema, conversation), "member_ids[1]");
    const device = create(notificationsV1.RegisterDeviceRequestSchema, {
      token: { case: "webPush", value: { endpoint: "https://push.example/\u0000", p256dh: "k", auth: "a" } },
    });
    assert.equal(nulStringField(notificationsV1.RegisterDeviceRequestSchema, device), "web_push.endpoint");
    assert.equal(nulStringField(catalogV1.CreateEventRequestSchema, create(catalogV1.CreateEventRequestSchema, validCreateRequest())), undefined);
  });

  it("the router refuses such a request as invalid_argument naming the field, without calling the handler", async () => {
    let called = false;
    const router = new Router().add(
      CatalogService,
      fakeCatalog({
        async createEvent() {
          called = true;
          return {};
        },
      }),
    );
    const path = "/flotilla.catalog.v1.CatalogService/CreateEvent";
    const route = router.lookup(path)!;
    const input = create(catalogV1.CreateEventRequestSchema, { ...validCreateRequest(), title: "A\u0000B" });
    await assert.rejects(route.invoke(input, { service: route.service, method: route.method, deadline: undefined, metadata: {}, signal: new AbortController().signal }), (error) => {
      assert.ok(error instanceof FlotillaError);
      assert.equal(error.code, "KIT_ERR_INVALID_ARGUMENT");
      assert.deepEqual(error.violations.map((v) => v.field), ["title"]);
      return true;
    });
    assert.equal(called, false);
  });
});
