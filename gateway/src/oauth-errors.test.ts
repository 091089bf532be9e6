import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError, kitErrors } from "@flotilla/kit";
import { describe, oauthErrorOf } from "./oauth-errors.ts";
import { gatewayErrors } from "./errors.ts";

const err = (code: string, rpc: FlotillaError["rpc"], message = "why") => new FlotillaError({ code, rpc, message });

test("codes ending with an RFC 6749 error are answered as that error", () => {
  const grant = oauthErrorOf(err("IDENTITY_ERR_INVALID_GRANT", "invalid_argument", "the code expired"));
  assert.deepEqual(grant.body, { error: "invalid_grant", error_description: "the code expired" });
  assert.equal(grant.status, 400);
  assert.equal(grant.headers["cache-control"], "no-store");
  const client = oauthErrorOf(err("IDENTITY_ERR_INVALID_CLIENT", "unauthenticated"));
  assert.equal(client.status, 401);
  assert.match(client.headers["www-authenticate"]!, /^Basic realm="flotilla"$/);
  assert.equal(oauthErrorOf(err("X_ERR_UNSUPPORTED_GRANT_TYPE", "invalid_argument")).body.error, "unsupported_grant_type");
});

test("other errors map by RPC code; internals are not described", () => {
  const field = oauthErrorOf(gatewayErrors.create("GW_ERR_INVALID_FIELD", "bad field"));
  assert.deepEqual([field.status, field.body.error], [400, "invalid_request"]);
  const bearer = oauthErrorOf(gatewayErrors.create("GW_ERR_UNAUTHENTICATED", "no token"));
  assert.deepEqual([bearer.status, bearer.body.error], [401, "invalid_token"]);
  assert.match(bearer.headers["www-authenticate"]!, /^Bearer .*error="invalid_token"/);
  const slow = oauthErrorOf(err("IDENTITY_ERR_TOO_MANY_ATTEMPTS", "resource_exhausted"));
  assert.deepEqual([slow.status, slow.body.error, slow.headers["retry-after"]], [429, "temporarily_unavailable", "1"]);
  const internal = oauthErrorOf(kitErrors.create("KIT_ERR_INTERNAL", "SELECT * FROM secrets failed at 10.0.0.3"));
  assert.deepEqual([internal.status, internal.body], [500, { error: "server_error" }]);
});

test("error_description keeps to the characters RFC 6749 allows", () => {
  assert.equal(describe('say "hi" \\ café\n'), "say hi  cafe");
});
