import assert from "node:assert/strict";
import { test } from "node:test";
import { identityV1 } from "@flotilla/contracts";
import { FlotillaError } from "@flotilla/kit";
import { bodyFor, clientAuthorizationOf, FormBody, formToJson, httpOptionOf, knownQuery, parseForm } from "./form-body.ts";

const token = identityV1.IdentityService.method.token;
const getMe = identityV1.IdentityService.method.getMe;

test("a form body parses, decoding + and percent escapes", () => {
  const form = parseForm("grant_type=password&username=a%2Bb%40c.d&password=p+q");
  assert.deepEqual([...form.fields], [
    ["grant_type", "password"],
    ["username", "a+b@c.d"],
    ["password", "p q"],
  ]);
});

test("a parameter given twice is refused (RFC 6749 3.1)", () => {
  assert.throws(() => parseForm("grant_type=password&grant_type=client_credentials"), (e: unknown) => e instanceof FlotillaError && e.code === "GW_ERR_INVALID_FIELD");
});

test("form fields map to the message by proto or JSON name; unknown ones are dropped", () => {
  const json = formToJson(token.input, parseForm("grant_type=refresh_token&refresh_token=rt_1&made_up=1"));
  assert.deepEqual(json, { grant_type: "refresh_token", refresh_token: "rt_1" });
});

test("forms are accepted only where the contract says form_body", () => {
  assert.equal(httpOptionOf(token)?.formBody, true);
  assert.equal(httpOptionOf(getMe), undefined);
  const form = new FormBody(new Map([["grant_type", "password"]]));
  assert.deepEqual(bodyFor(form, token, httpOptionOf(token)), { grant_type: "password" });
  assert.throws(() => bodyFor(form, getMe, undefined), (e: unknown) => e instanceof FlotillaError && e.code === "GW_ERR_UNSUPPORTED_MEDIA_TYPE");
  const json = { grant_type: "password" };
  assert.equal(bodyFor(json, token, httpOptionOf(token)), json);
});

test("unknown query parameters are dropped on OAuth routes", () => {
  const authorize = identityV1.IdentityService.method.authorize;
  assert.deepEqual(knownQuery(authorize.input, { client_id: "a", prompt: "login", state: "s" }), { client_id: "a", state: "s" });
});

test("HTTP Basic passes on form routes only", () => {
  const basic = `Basic ${Buffer.from("c:s").toString("base64")}`;
  assert.equal(clientAuthorizationOf(basic, httpOptionOf(token)), basic);
  assert.equal(clientAuthorizationOf(basic, undefined), undefined);
  assert.equal(clientAuthorizationOf("Bearer x.y.z", httpOptionOf(token)), undefined);
});

test("OpenAPI shows the form body, the RFC 6749 errors and the raw page of the OAuth routes", async () => {
  const { buildOpenApi } = await import("./openapi.ts");
  const doc = buildOpenApi({ services: [identityV1.IdentityService], info: { title: "t", version: "1" } });
  const tokenOp = doc.paths["/oauth2/token"]?.post;
  assert.ok(tokenOp?.requestBody?.content["application/x-www-form-urlencoded"]);
  const bad = tokenOp.responses["400"] as { content: Record<string, { schema: { required?: string[] } }> };
  assert.deepEqual(bad.content["application/json"]?.schema.required, ["error"]);
  const page = doc.paths["/oauth2/authorize"]?.get;
  assert.ok(page);
  assert.ok((page.responses["200"] as { content: Record<string, unknown> }).content["text/html"]);
  assert.ok(page.responses["302"]);
});
