// Identity's own check of the bearer tokens it receives, against the classic
// JWT attacks: alg none, HMAC with the public key as secret, unknown or
// injected kid, expired, wrong audience or issuer, wrong typ.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { createFieldCipher, type Database, localKeyProvider } from "@flotilla/kit";
import { migrate, PgliteProvider } from "@flotilla/kit/internal";
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { type TokenIssuer, tokenIssuer } from "./access-tokens.ts";
import { migrations } from "./migrations.ts";
import { KeyRing } from "./signing-keys.ts";

const ISS = "https://api.example.test";
const provider = new PgliteProvider();
let db: Database;
let clock = Date.now();
let tokens: TokenIssuer;
let ring: KeyRing;

before(async () => {
  db = await provider.open("identity");
  await migrate(db, migrations);
  const cipher = createFieldCipher({ keys: localKeyProvider({ keys: { k1: randomBytes(32) }, currentKeyId: "k1" }) });
  ring = new KeyRing({ db, cipher, rotationMs: 86_400_000, overlapMs: 630_000, now: () => new Date(clock) });
  tokens = tokenIssuer({ keys: ring, issuer: ISS, ttlSec: 600, now: () => new Date(clock) });
});
after(() => provider.close());

const claims = { sub: "acc_1", clientId: "flotilla-mobile", scope: ["openid"], roles: ["admin"], permissions: ["identity:admin"], sid: "ses_1" };
const rejects = (token: string) => assert.rejects(tokens.verify(token), { code: "IDENTITY_ERR_INVALID_TOKEN" });

test("a token it issued verifies, with the claims of the shared contract", async () => {
  const token = await tokens.accessToken(claims);
  const header = decodeProtectedHeader(token);
  assert.deepEqual([header.alg, header.typ], ["ES256", "at+jwt"]);
  const v = await tokens.verify(token);
  assert.deepEqual([v.sub, v.client_id, v.scope, v.sid], ["acc_1", "flotilla-mobile", "openid", "ses_1"]);
  assert.deepEqual(v.permissions, ["identity:admin"]);
  assert.equal(v.exp - v.iat, 600);
});

test("alg none is refused", async () => {
  const good = await tokens.accessToken(claims);
  const [, payload] = good.split(".");
  const header = base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid: decodeProtectedHeader(good).kid }));
  await rejects(`${header}.${payload}.`);
});

test("HS256 signed with the public JWK as the secret (key confusion) is refused", async () => {
  const [jwk] = await ring.jwks();
  const secret = new TextEncoder().encode(JSON.stringify(jwk));
  const forged = await new SignJWT({ client_id: "x", scope: "openid", permissions: ["identity:admin"] })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: jwk!.kid })
    .setIssuer(ISS)
    .setAudience("flotilla")
    .setSubject("acc_evil")
    .setIssuedAt()
    .setExpirationTime("5m")
    .setJti("j")
    .sign(secret);
  await rejects(forged);
});

test("a token signed by another key, or naming an unknown or injected kid, is refused", async () => {
  const { privateKey } = await generateKeyPair("ES256");
  const sign = (kid: string) =>
    new SignJWT({ client_id: "x", scope: "openid" })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid })
      .setIssuer(ISS)
      .setAudience("flotilla")
      .setSubject("acc_evil")
      .setIssuedAt()
      .setExpirationTime("5m")
      .setJti("j")
      .sign(privateKey);
  const realKid = (await ring.jwks())[0]!.kid;
  await rejects(await sign(realKid));
  await rejects(await sign("unknown"));
  await rejects(await sign("' OR '1'='1"));
  await rejects(await sign("../../etc/passwd"));
});

test("expired (beyond the 30 s skew), wrong audience, wrong issuer or wrong typ are refused", async () => {
  const token = await tokens.accessToken(claims);
  clock += 600_000 + 29_000;
  await tokens.verify(token);
  clock += 2_000;
  await rejects(token);
  clock = Date.now();

  const key = await ring.active();
  const variant = (f: (j: SignJWT) => SignJWT, typ = "at+jwt") =>
    f(new SignJWT({ client_id: "x", scope: "openid" }).setProtectedHeader({ alg: "ES256", typ, kid: key.kid }).setSubject("acc_1").setIssuedAt().setExpirationTime("5m").setJti("j")).sign(
      key.privateKey,
    );
  await rejects(await variant((j) => j.setIssuer(ISS).setAudience("someone-else")));
  await rejects(await variant((j) => j.setIssuer("https://evil.example").setAudience("flotilla")));
  await rejects(await variant((j) => j.setIssuer(ISS).setAudience("flotilla"), "JWT"));
  // The control: the same construction with the right values passes.
  assert.equal((await tokens.verify(await variant((j) => j.setIssuer(ISS).setAudience("flotilla")))).sub, "acc_1");
});

test("an ID token names the client as its audience and echoes the nonce", async () => {
  const id = await tokens.idToken({ sub: "acc_1", clientId: "flotilla-mobile", nonce: "n-9", authTime: 1 });
  const c = decodeJwt(id);
  assert.deepEqual([c.aud, c.nonce, c.iss], ["flotilla-mobile", "n-9", ISS]);
  // ...and cannot be used as an access token.
  await rejects(id);
});
