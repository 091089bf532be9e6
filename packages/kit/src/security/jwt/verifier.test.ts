import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { type CryptoKey, exportSPKI, importJWK, SignJWT } from "jose";
import { FlotillaError } from "../../errors/index.ts";
import { createTestIssuer, type TestIssuer } from "./test-issuer.ts";
import { createTokenVerifier, type TokenVerifierOptions } from "./verifier.ts";

/** A clock the test moves by hand, so expiry is checked without waiting. */
function clock(start = Date.now()) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

async function setup(overrides: Partial<TokenVerifierOptions> = {}) {
  const time = clock();
  const issuer = await createTestIssuer({ now: time.now });
  const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks(), now: time.now, ...overrides });
  return { time, issuer, verifier };
}

async function rejects(promise: Promise<unknown>, code: string): Promise<FlotillaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FlotillaError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const segments = (token: string) => token.split(".") as [string, string, string];
const payloadOf = (token: string) => JSON.parse(Buffer.from(segments(token)[1], "base64url").toString()) as Record<string, unknown>;

test("a valid access token gives its caller", async () => {
  const { issuer, verifier } = await setup();
  const caller = await verifier.verify(await issuer.sign({ sub: "acc_42", permissions: ["catalog:write"], sid: "fam_1", scope: "openid  catalog" }));
  assert.equal(caller.subject, "acc_42");
  assert.equal(caller.clientId, "mobile");
  assert.deepEqual(caller.permissions, ["catalog:write"]);
  assert.deepEqual(caller.roles, ["member"]);
  assert.deepEqual(caller.scopes, ["openid", "catalog"]);
  assert.equal(caller.sessionId, "fam_1");
  assert.equal(caller.keyId, "k1");
});

test("rejects a non-asymmetric algorithm at construction", () => {
  assert.throws(() => createTokenVerifier({ issuer: "x", audience: "y", jwks: "https://x", algorithms: ["HS256" as "ES256"] }), /HS256 is not allowed/);
});

// The attack suite: every forged or unfit token is refused with a typed error.

test("attack: alg none", async () => {
  const { issuer, verifier } = await setup();
  const real = await issuer.sign();
  const forged = `${b64({ alg: "none", typ: "at+jwt", kid: "k1" })}.${segments(real)[1]}.`;
  await rejects(verifier.verify(forged), "KIT_ERR_TOKEN_INVALID");
});

test("attack: HS256 signed with the public key (as JWK text and as PEM)", async () => {
  const { issuer, verifier } = await setup();
  const jwk = issuer.publicJwk("k1");
  const pem = await exportSPKI((await importJWK(jwk, "ES256", { extractable: true })) as CryptoKey);
  for (const secret of [JSON.stringify(jwk), pem]) {
    const forged = await new SignJWT(payloadOf(await issuer.sign({ permissions: ["identity:admin"] })))
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: "k1" })
      .sign(new TextEncoder().encode(secret));
    await rejects(verifier.verify(forged), "KIT_ERR_TOKEN_INVALID");
  }
});

test("attack: a symmetric key slipped into the JWKS is never used", async () => {
  const time = clock();
  const issuer = await createTestIssuer({ now: time.now });
  const secret = new TextEncoder().encode("a shared secret of enough length!");
  const evil = { kty: "oct", kid: "evil", k: Buffer.from(secret).toString("base64url"), alg: "HS256" };
  const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, now: time.now, jwks: async () => ({ keys: [...(await issuer.jwks()).keys, evil] }) });
  const forged = await new SignJWT(payloadOf(await issuer.sign())).setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: "evil" }).sign(secret);
  await rejects(verifier.verify(forged), "KIT_ERR_TOKEN_INVALID");
});

test("attack: unknown kid refetches the set once per cooldown, then rejects", async () => {
  const { time, issuer, verifier } = await setup();
  await verifier.verify(await issuer.sign());
  assert.equal(issuer.fetches, 1);
  await issuer.addKey("k2", false);
  issuer.useKey("k2");
  time.advance(11_000);
  await rejects(verifier.verify(await issuer.sign()), "KIT_ERR_TOKEN_UNKNOWN_KEY");
  assert.equal(issuer.fetches, 2, "one refetch for the unknown kid");
  for (let i = 0; i < 5; i++) await rejects(verifier.verify(await issuer.sign({ jti: `j${i}` }, { kid: `made-up-${i}` })), "KIT_ERR_TOKEN_UNKNOWN_KEY");
  assert.equal(issuer.fetches, 2, "no refetch within the cooldown");
});

test("a rotated-in key is picked up by the refetch", async () => {
  const { time, issuer, verifier } = await setup();
  await verifier.verify(await issuer.sign());
  await issuer.addKey("k2", true);
  issuer.useKey("k2");
  time.advance(10_000);
  const caller = await verifier.verify(await issuer.sign());
  assert.equal(caller.keyId, "k2");
});

test("attack: expired beyond the skew; within the skew it passes", async () => {
  const { time, issuer, verifier } = await setup();
  const iat = Math.floor(time.now() / 1000) - 700;
  await rejects(verifier.verify(await issuer.sign({ iat, nbf: iat, exp: Math.floor(time.now() / 1000) - 60 })), "KIT_ERR_TOKEN_EXPIRED");
  const within = await issuer.sign({ iat, nbf: iat, exp: Math.floor(time.now() / 1000) - 20 });
  assert.equal((await verifier.verify(within)).subject, "acc_1");
});

test("attack: not yet valid (nbf, iat in the future beyond the skew)", async () => {
  const { time, issuer, verifier } = await setup();
  const now = Math.floor(time.now() / 1000);
  await rejects(verifier.verify(await issuer.sign({ nbf: now + 120 })), "KIT_ERR_TOKEN_NOT_YET_VALID");
  await rejects(verifier.verify(await issuer.sign({ iat: now + 120, nbf: now })), "KIT_ERR_TOKEN_NOT_YET_VALID");
  assert.equal((await verifier.verify(await issuer.sign({ nbf: now + 20 }))).subject, "acc_1");
});

test("attack: wrong iss, wrong aud, missing sub", async () => {
  const { issuer, verifier } = await setup();
  await rejects(verifier.verify(await issuer.sign({ iss: "https://evil.example" })), "KIT_ERR_TOKEN_CLAIM_INVALID");
  await rejects(verifier.verify(await issuer.sign({ aud: "other-api" })), "KIT_ERR_TOKEN_CLAIM_INVALID");
  await rejects(verifier.verify(await issuer.sign({ sub: undefined })), "KIT_ERR_TOKEN_CLAIM_INVALID");
  await rejects(verifier.verify(await issuer.sign({ permissions: "identity:admin" })), "KIT_ERR_TOKEN_CLAIM_INVALID");
});

test("attack: tampered payload", async () => {
  const { issuer, verifier } = await setup();
  const [h, p, s] = segments(await issuer.sign());
  const tampered = b64({ ...JSON.parse(Buffer.from(p, "base64url").toString()), permissions: ["identity:admin"] });
  await rejects(verifier.verify(`${h}.${tampered}.${s}`), "KIT_ERR_TOKEN_INVALID");
});

test("attack: not an access token (typ), no kid, garbage, oversized", async () => {
  const { issuer, verifier } = await setup();
  await rejects(verifier.verify(await issuer.sign({}, { typ: "JWT" })), "KIT_ERR_TOKEN_INVALID");
  await rejects(verifier.verify(await issuer.sign({}, { kid: undefined })), "KIT_ERR_TOKEN_INVALID");
  for (const junk of ["", "abc", "a.b", "a.b.c.d", "é.é.é", `${"a".repeat(9000)}.b.c`]) await rejects(verifier.verify(junk), "KIT_ERR_TOKEN_INVALID");
});

test("attack: a token whose key was removed from the JWKS (revoked), even after it was cached", async () => {
  const { time, issuer, verifier } = await setup({ keysMaxAgeMs: 60_000 });
  const token = await issuer.sign();
  await verifier.verify(token);
  issuer.unpublish("k1");
  time.advance(61_000);
  await rejects(verifier.verify(token), "KIT_ERR_TOKEN_UNKNOWN_KEY");
  await rejects(verifier.verify(await issuer.sign()), "KIT_ERR_TOKEN_UNKNOWN_KEY");
});

test("verified tokens are cached until exp, keyed so the hot path skips the signature", async () => {
  const { time, issuer, verifier } = await setup();
  const token = await issuer.sign({ exp: Math.floor(time.now() / 1000) + 60 });
  const first = await verifier.verify(token);
  assert.equal(await verifier.verify(token), first, "the same verified object: served from the cache");
  time.advance(61_000 + 30_000);
  await rejects(verifier.verify(token), "KIT_ERR_TOKEN_EXPIRED");

  const off = await setup({ cache: false });
  const again = await off.issuer.sign();
  assert.notEqual(await off.verifier.verify(again), await off.verifier.verify(again), "cache off: verified each time");
});

test("the cache is bounded", async () => {
  const { issuer, verifier } = await setup({ cache: { max: 2 } });
  const tokens = await Promise.all([1, 2, 3].map((i) => issuer.sign({ jti: `t${i}` })));
  const first = await verifier.verify(tokens[0]!);
  await verifier.verify(tokens[1]!);
  await verifier.verify(tokens[2]!);
  assert.notEqual(await verifier.verify(tokens[0]!), first, "evicted, verified again");
});

test("JWKS down: KIT_ERR_JWKS_UNAVAILABLE (retryable) before any key; cached keys survive a later outage", async () => {
  const time = clock();
  const issuer = await createTestIssuer({ now: time.now });
  let down = true;
  const verifier = createTokenVerifier({
    issuer: issuer.issuer,
    audience: issuer.audience,
    now: time.now,
    keysMaxAgeMs: 1_000,
    jwks: async () => {
      if (down) throw new Error("connection refused");
      return issuer.jwks();
    },
  });
  const error = await rejects(verifier.verify(await issuer.sign()), "KIT_ERR_JWKS_UNAVAILABLE");
  assert.equal(error.retryable, true);
  down = false;
  time.advance(1_000);
  await verifier.verify(await issuer.sign());
  down = true;
  time.advance(5_000);
  assert.equal((await verifier.verify(await issuer.sign({ jti: "later" }))).subject, "acc_1");
});

test("keys from a remote JWKS URL", async () => {
  const issuer: TestIssuer = await createTestIssuer();
  const server = createServer(async (req, res) => {
    if (req.url !== "/.well-known/jwks.json") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(await issuer.jwks()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: `http://127.0.0.1:${port}/.well-known/jwks.json` });
    assert.equal((await verifier.verify(await issuer.sign())).subject, "acc_1");
    const bad = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: `http://127.0.0.1:${port}/nope` });
    await rejects(bad.verify(await issuer.sign()), "KIT_ERR_JWKS_UNAVAILABLE");
  } finally {
    server.close();
  }
});

test("a token verified with remember: false is not kept in the verified-token cache", async () => {
  const { issuer, verifier } = await setup();
  const once = await issuer.sign({ sub: "acc_once" });
  const first = await verifier.verify(once, { remember: false });
  const second = await verifier.verify(once);
  assert.notEqual(second, first, "the first verification left nothing in the cache");
  assert.equal(await verifier.verify(once), second, "a default verification is kept and found again");
  assert.equal(await verifier.verify(once, { remember: false }), second, "remember: false still reads the cache");
});
