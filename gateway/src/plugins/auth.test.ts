// Authentication and authorization through real HTTP, including the JWT
// attack suite: every forged or unfit token is a 401 problem and never
// reaches the service.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CryptoKey, exportSPKI, importJWK, SignJWT } from "jose";
import { type Reply, request, type SecuredGateway, sha256, startSecured, newEvent } from "../../test/support/secured-gateway.ts";

function problem(res: Reply, status: number, code: string): Record<string, unknown> {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
  assert.equal(res.body?.code, code, res.text);
  assert.equal(res.body?.status, status);
  return res.body!;
}

const create = (gw: SecuredGateway, headers: Record<string, string> = {}) =>
  request(gw.base, "/v1/catalog/events", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(newEvent) });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("authentication", () => {
  test("a public route needs no token; the client IP is forwarded, no authorization", async () => {
    await using gw = await startSecured();
    const res = await request(gw.base, "/v1/catalog/events");
    assert.equal(res.status, 200);
    const metadata = gw.catalog.calls[0]!.options.metadata;
    assert.equal(metadata["x-client-ip"], "127.0.0.1");
    assert.equal(metadata.authorization, undefined);
    assert.deepEqual(gw.seen, [{ sub: undefined, token: undefined, app: undefined }]);
  });

  test("a protected route without a token: 401, WWW-Authenticate without an error code, service not called", async () => {
    await using gw = await startSecured();
    const res = await create(gw);
    problem(res, 401, "GW_ERR_UNAUTHENTICATED");
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="flotilla"');
    assert.equal(gw.catalog.calls.length, 0);
  });

  test("auth runs before the body is parsed: bad JSON without a token is a 401", async () => {
    await using gw = await startSecured();
    const res = await request(gw.base, "/v1/catalog/events", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    problem(res, 401, "GW_ERR_UNAUTHENTICATED");
  });

  test("a valid token with the permission: the call carries the token and the client IP; request.auth has the claims", async () => {
    await using gw = await startSecured();
    const token = await gw.token(["catalog:write"], { sub: "acc_7" });
    const res = await create(gw, bearer(token));
    assert.equal(res.status, 200, res.text);
    const metadata = gw.catalog.calls[0]!.options.metadata;
    assert.equal(metadata.authorization, `Bearer ${token}`);
    assert.equal(metadata["x-client-ip"], "127.0.0.1");
    assert.equal(gw.seen[0]?.sub, "acc_7");
    assert.deepEqual(gw.seen[0]?.token?.permissions, ["catalog:write"]);
  });

  test("the Authorization header must be Bearer <token>", async () => {
    await using gw = await startSecured();
    for (const header of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "bearer\ttoken", "Token abc"]) {
      const res = await create(gw, { authorization: header });
      problem(res, 401, "GW_ERR_UNAUTHENTICATED");
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="flotilla"/);
    }
    assert.equal(gw.catalog.calls.length, 0);
  });

  test("a bad token sent to a public route is refused too", async () => {
    await using gw = await startSecured();
    const token = await gw.token([], { aud: "someone-else" });
    problem(await request(gw.base, "/v1/catalog/events", { headers: bearer(token) }), 401, "KIT_ERR_TOKEN_CLAIM_INVALID");
    assert.equal(gw.catalog.calls.length, 0);
  });

  test("JWKS unreachable: 503, retryable, not a 401", async () => {
    await using gw = await startSecured({
      verifier: {
        jwks: async () => {
          throw new Error("connect ECONNREFUSED");
        },
      },
    });
    const res = await create(gw, bearer(await gw.token()));
    problem(res, 503, "KIT_ERR_JWKS_UNAVAILABLE");
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal(gw.catalog.calls.length, 0);
  });
});

describe("authorization", () => {
  test("a token without the required permission: 403 naming it, service not called", async () => {
    await using gw = await startSecured();
    const res = await create(gw, bearer(await gw.token(["catalog.events.read", "identity:admin"])));
    const body = problem(res, 403, "KIT_ERR_PERMISSION_DENIED");
    assert.match(String(body.detail), /catalog:write/);
    assert.equal(gw.catalog.calls.length, 0);
  });
});

describe("the JWT attack suite: 401 problem+json, the service never called", () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const attacks: [string, string, (gw: SecuredGateway) => Promise<string>][] = [
    ["alg none", "KIT_ERR_TOKEN_INVALID", async (gw) => `${b64({ alg: "none", typ: "at+jwt", kid: "k1" })}.${(await gw.token()).split(".")[1]}.`],
    [
      "HS256 signed with the public key",
      "KIT_ERR_TOKEN_INVALID",
      async (gw) => {
        const jwk = gw.issuer.publicJwk("k1");
        const pem = await exportSPKI((await importJWK(jwk, "ES256", { extractable: true })) as CryptoKey);
        const payload = JSON.parse(Buffer.from((await gw.token()).split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
        return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: "k1" }).sign(new TextEncoder().encode(pem));
      },
    ],
    [
      "unknown kid",
      "KIT_ERR_TOKEN_UNKNOWN_KEY",
      async (gw) => {
        await gw.issuer.addKey("rogue", false);
        gw.issuer.useKey("rogue");
        return gw.token();
      },
    ],
    ["expired", "KIT_ERR_TOKEN_EXPIRED", async (gw) => gw.token(undefined, { exp: Math.floor(Date.now() / 1000) - 120 })],
    ["not yet valid", "KIT_ERR_TOKEN_NOT_YET_VALID", async (gw) => gw.token(undefined, { nbf: Math.floor(Date.now() / 1000) + 600 })],
    ["wrong iss", "KIT_ERR_TOKEN_CLAIM_INVALID", async (gw) => gw.token(undefined, { iss: "https://evil.example" })],
    ["wrong aud", "KIT_ERR_TOKEN_CLAIM_INVALID", async (gw) => gw.token(undefined, { aud: "another-api" })],
    [
      "tampered payload",
      "KIT_ERR_TOKEN_INVALID",
      async (gw) => {
        const [h, p, s] = (await gw.token([])).split(".") as [string, string, string];
        const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
        return `${h}.${b64({ ...claims, permissions: ["catalog:write"] })}.${s}`;
      },
    ],
    ["not an access token (typ JWT)", "KIT_ERR_TOKEN_INVALID", async (gw) => gw.issuer.sign({ permissions: ["catalog:write"] }, { typ: "JWT" })],
  ];
  for (const [name, code, forge] of attacks) {
    test(name, async () => {
      await using gw = await startSecured();
      const res = await create(gw, bearer(await forge(gw)));
      problem(res, 401, code);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="flotilla", error="invalid_token", error_description="[^"]+"$/);
      assert.equal(gw.catalog.calls.length, 0);
    });
  }

  test("a kid with quotes, control and non-latin-1 characters cannot break the WWW-Authenticate header", async () => {
    await using gw = await startSecured();
    const res = await create(gw, bearer(await gw.issuer.sign({}, { kid: 'k"\\\n\u2603é' })));
    problem(res, 401, "KIT_ERR_TOKEN_UNKNOWN_KEY");
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="flotilla", error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]+"$/);
  });

  test("a token for a revoked key (removed from the JWKS), even one that worked before", async () => {
    await using gw = await startSecured({ verifier: { keysMaxAgeMs: 60_000 } });
    await gw.issuer.addKey("k2", true);
    gw.issuer.useKey("k2");
    const token = await gw.token();
    assert.equal((await create(gw, bearer(token))).status, 200);
    gw.issuer.unpublish("k2");
    gw.advance(61_000);
    problem(await create(gw, bearer(token)), 401, "KIT_ERR_TOKEN_UNKNOWN_KEY");
    problem(await create(gw, bearer(await gw.token())), 401, "KIT_ERR_TOKEN_UNKNOWN_KEY");
    assert.equal(gw.catalog.calls.length, 1);
  });
});

describe("app API keys", () => {
  const keys = [
    { id: "ios-app", platform: "ios", sha256: sha256("ios-secret-key"), revoked: false },
    { id: "old-android", platform: "android", sha256: sha256("leaked-key"), revoked: true },
  ];

  test("a known key on a public route identifies the app", async () => {
    await using gw = await startSecured({ config: { appKeys: keys } });
    const res = await request(gw.base, "/v1/catalog/events", { headers: { "x-api-key": "ios-secret-key" } });
    assert.equal(res.status, 200);
    assert.deepEqual(gw.seen[0]?.app, { id: "ios-app", platform: "ios" });
  });

  test("an unknown or revoked key is a 401; the service is not called", async () => {
    await using gw = await startSecured({ config: { appKeys: keys } });
    for (const key of ["leaked-key", "guess", "x".repeat(300)]) {
      problem(await request(gw.base, "/v1/catalog/events", { headers: { "x-api-key": key } }), 401, "GW_ERR_APP_KEY_INVALID");
    }
    assert.equal(gw.catalog.calls.length, 0);
  });

  test("a key with a token on a protected route: both identified", async () => {
    await using gw = await startSecured({ config: { appKeys: keys } });
    const res = await create(gw, { "x-api-key": "ios-secret-key", ...bearer(await gw.token()) });
    assert.equal(res.status, 200, res.text);
    assert.equal(gw.seen[0]?.app?.id, "ios-app");
    assert.equal(gw.seen[0]?.sub, "acc_1");
  });

  test("an app key does not stand in for a token on a protected route", async () => {
    await using gw = await startSecured({ config: { appKeys: keys } });
    problem(await create(gw, { "x-api-key": "ios-secret-key" }), 401, "GW_ERR_UNAUTHENTICATED");
  });

  test("keys follow the config: revoking one takes effect on the next request", async () => {
    await using gw = await startSecured({ config: { appKeys: keys } });
    assert.equal((await request(gw.base, "/v1/catalog/events", { headers: { "x-api-key": "ios-secret-key" } })).status, 200);
    gw.config = { ...gw.config, appKeys: keys.map((k) => ({ ...k, revoked: true })) };
    problem(await request(gw.base, "/v1/catalog/events", { headers: { "x-api-key": "ios-secret-key" } }), 401, "GW_ERR_APP_KEY_INVALID");
  });

  test("public routes can require an app key", async () => {
    await using gw = await startSecured({ config: { appKeys: keys }, requireAppKeyOnPublic: true });
    problem(await request(gw.base, "/v1/catalog/events"), 401, "GW_ERR_APP_KEY_INVALID");
    assert.equal((await request(gw.base, "/v1/catalog/events", { headers: { "x-api-key": "ios-secret-key" } })).status, 200);
  });
});
