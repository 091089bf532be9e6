// Raw responses (pages, redirects) written by the gateway, over real HTTP.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { identityV1, optionsV1 } from "@flotilla/contracts";
import { fastify, type FastifyInstance } from "fastify";
import { rawResponseField, rawResponseOf, sendRaw } from "./http-body.ts";

let app: FastifyInstance;
let base: string;
let next: optionsV1.HttpResponse;

before(async () => {
  app = fastify();
  app.get("/raw", async (_request, reply) => {
    try {
      return sendRaw(reply, next);
    } catch (error) {
      return reply.code(500).send(String(error));
    }
  });
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});
after(() => app.close());

test("the raw field is found from the output message's type", () => {
  const authorize = identityV1.IdentityService.method.authorize;
  const field = rawResponseField(authorize);
  assert.equal(field?.name, "http");
  assert.equal(rawResponseField(identityV1.IdentityService.method.getMe), undefined);
  const page = create(optionsV1.HttpResponseSchema, { contentType: "text/html" });
  assert.equal(rawResponseOf(field, create(identityV1.AuthorizeResponseSchema, { http: page })), page);
  assert.equal(rawResponseOf(field, create(identityV1.AuthorizeResponseSchema, {})), undefined);
});

test("a page is written with its status, type, headers and bytes", async () => {
  next = create(optionsV1.HttpResponseSchema, { contentType: "text/html; charset=utf-8", body: new TextEncoder().encode("<p>hi</p>"), headers: { "X-Frame-Options": "DENY" } });
  const res = await fetch(`${base}/raw`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(await res.text(), "<p>hi</p>");
});

test("a location makes a 302 unless a status is given", async () => {
  next = create(optionsV1.HttpResponseSchema, { location: "flotilla://oauth/callback?code=1" });
  let res = await fetch(`${base}/raw`, { redirect: "manual" });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "flotilla://oauth/callback?code=1");
  next = create(optionsV1.HttpResponseSchema, { status: 303, location: "/next" });
  res = await fetch(`${base}/raw`, { redirect: "manual" });
  assert.equal(res.status, 303);
});

test("script locations, header injection and reserved headers are refused", async () => {
  for (const bad of [
    create(optionsV1.HttpResponseSchema, { location: "javascript:alert(1)" }),
    create(optionsV1.HttpResponseSchema, { location: "//evil.example" }),
    create(optionsV1.HttpResponseSchema, { headers: { "x-a": "1\r\nset-cookie: a=b" } }),
    create(optionsV1.HttpResponseSchema, { headers: { "set-cookie": "a=b" } }),
    create(optionsV1.HttpResponseSchema, { status: 99 }),
  ]) {
    next = bad;
    const res = await fetch(`${base}/raw`, { redirect: "manual" });
    assert.equal(res.status, 500, JSON.stringify(bad.headers));
    assert.equal(res.headers.get("location"), null);
  }
});
