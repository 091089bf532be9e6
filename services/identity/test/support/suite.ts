// Every identity flow over HTTP through the gateway; run on PGlite and on
// PostgreSQL by the two *.test.ts files beside this folder.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { client, freshEmail, GOOD_PASSWORD, pkcePair, type Res } from "./http.ts";
import { ADMIN, ISSUER, startWorld, type World } from "./world.ts";

const MOBILE = "flotilla-mobile";
/** What a browser sends with a post from the sign-in page itself. */
const SAME_ORIGIN = { origin: new URL(ISSUER).origin };
const formTokenOf = (html: string) => /name="form_token" value="([^"]+)"/.exec(html)?.[1] ?? assert.fail("the page has no form token");
const REDIRECT = "http://127.0.0.1/callback";

export function identitySuite(kind: "pglite" | "postgres"): void {
  let world: World;
  let http: ReturnType<typeof client>;

  before(async () => {
    world = await startWorld(kind);
    http = client(world.base);
  });
  after(() => world.close());

  const signUp = async (email = freshEmail("user"), password = GOOD_PASSWORD) => {
    const res = await http.json("POST", "/v1/accounts", { email, password, displayName: "Ana" });
    assert.equal(res.status, 200, res.text);
    return { email, password, accountId: (res.body.account as { accountId: string }).accountId };
  };
  const passwordGrant = (username: string, password: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    http.form("/oauth2/token", { grant_type: "password", client_id: MOBILE, username, password, scope: "openid profile email", ...extra }, headers);
  const tokensOf = (res: Res) => {
    assert.equal(res.status, 200, res.text);
    return res.body as { access_token: string; refresh_token: string; id_token?: string; expires_in: number; token_type: string; scope: string };
  };
  const oauthError = (res: Res, status: number, error: string) => {
    assert.equal(res.status, status, res.text);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(res.body.error, error, res.text);
    assert.equal(res.headers.get("cache-control"), "no-store");
  };
  const adminToken = async () => tokensOf(await passwordGrant(ADMIN.email, ADMIN.password)).access_token;

  describe(`identity on ${kind}`, () => {
    test("discovery (RFC 8414) and the JWKS describe this issuer", async () => {
      const meta = await http.get("/.well-known/openid-configuration");
      assert.equal(meta.status, 200);
      assert.equal(meta.body.issuer, ISSUER);
      assert.equal(meta.body.token_endpoint, `${ISSUER}/oauth2/token`);
      assert.equal(meta.body.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
      assert.deepEqual(meta.body.code_challenge_methods_supported, ["S256"]);
      const jwks = await http.get("/.well-known/jwks.json");
      const keys = jwks.body.keys as { kty: string; crv: string; alg: string; kid: string; d?: string }[];
      assert.ok(keys.length >= 1);
      for (const k of keys) {
        assert.deepEqual([k.kty, k.crv, k.alg], ["EC", "P-256", "ES256"]);
        assert.equal(k.d, undefined, "no private part is published");
      }
    });

    test("sign-up normalises the email and enforces the password policy", async () => {
      const email = freshEmail("Case");
      const created = await http.json("POST", "/v1/accounts", { email: `  ${email.toUpperCase()}`.trim(), password: GOOD_PASSWORD });
      assert.equal(created.status, 200, created.text);
      assert.equal((created.body.account as { email: string }).email, email.toLowerCase());
      const again = await http.json("POST", "/v1/accounts", { email: email.toLowerCase(), password: GOOD_PASSWORD });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, "IDENTITY_ERR_EMAIL_TAKEN");
      const common = await http.json("POST", "/v1/accounts", { email: freshEmail("weak"), password: "Password123" });
      assert.equal(common.status, 400);
      assert.equal(common.body.code, "IDENTITY_ERR_WEAK_PASSWORD");
      const short = await http.json("POST", "/v1/accounts", { email: freshEmail("short"), password: "abc" });
      assert.equal(short.status, 400);
    });

    test("sign-up → password grant → /v1/me, with RFC 9068 access-token claims", async () => {
      const { email, password, accountId } = await signUp();
      const res = await passwordGrant(email, password, { device_name: "Ana's phone" });
      const t = tokensOf(res);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(t.token_type, "Bearer");
      assert.ok(t.refresh_token.length > 40);
      assert.ok(t.id_token);
      const header = decodeProtectedHeader(t.access_token);
      assert.deepEqual([header.alg, header.typ], ["ES256", "at+jwt"]);
      assert.ok(header.kid);
      const claims = decodeJwt(t.access_token);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, "flotilla");
      assert.equal(claims.sub, accountId);
      assert.equal(claims.client_id, MOBILE);
      assert.equal(claims.scope, "openid profile email");
      assert.deepEqual(claims.roles, []);
      assert.ok(typeof claims.sid === "string" && typeof claims.jti === "string");
      assert.ok(claims.exp! - claims.iat! <= 900);
      assert.equal(decodeJwt(t.id_token!).aud, MOBILE);

      const me = await http.get("/v1/me", t.access_token);
      assert.equal(me.status, 200, me.text);
      assert.equal((me.body.account as { email: string }).email, email);
      const patched = await http.json("PATCH", "/v1/me", { displayName: "Ana B", phone: "+351912345678" }, t.access_token);
      assert.equal(patched.status, 200, patched.text);
      assert.equal((patched.body.account as { phone: string }).phone, "+351912345678");
      const info = await http.get("/oauth2/userinfo", t.access_token);
      assert.equal(info.status, 200, info.text);
      assert.deepEqual(info.body, { sub: accountId, email, name: "Ana B" });
      const anonymous = await http.get("/v1/me");
      assert.equal(anonymous.status, 401);
    });

    test("wrong credentials and bad requests answer RFC 6749 errors", async () => {
      const { email } = await signUp();
      oauthError(await passwordGrant(email, "not-the-password", {}, { "x-forwarded-for": "203.0.113.10" }), 400, "invalid_grant");
      oauthError(await http.form("/oauth2/token", { grant_type: "magic", client_id: MOBILE }), 400, "unsupported_grant_type");
      oauthError(await http.form("/oauth2/token", { client_id: MOBILE }), 400, "invalid_request");
      oauthError(await http.form("/oauth2/token", "grant_type=password&grant_type=client_credentials&client_id=flotilla-mobile"), 400, "invalid_request");
      const unknownClient = await http.form("/oauth2/token", { grant_type: "password", client_id: "nobody", username: email, password: GOOD_PASSWORD });
      oauthError(unknownClient, 401, "invalid_client");
      assert.match(unknownClient.headers.get("www-authenticate") ?? "", /^Basic /);
      oauthError(await passwordGrant(email, GOOD_PASSWORD, { scope: "openid admin" }), 400, "invalid_scope");
      // Unrecognised parameters are ignored (RFC 6749 3.1).
      tokensOf(await passwordGrant(email, GOOD_PASSWORD, { unknown_parameter: "x" }));
    });

    test("refresh tokens rotate; reusing a rotated one revokes the whole family", async () => {
      const { email, password } = await signUp();
      const first = tokensOf(await passwordGrant(email, password));
      const second = tokensOf(await http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: first.refresh_token }));
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.equal(decodeJwt(second.access_token).sid, decodeJwt(first.access_token).sid);
      const third = tokensOf(await http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: second.refresh_token }));

      const reuse = await http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: first.refresh_token });
      oauthError(reuse, 400, "invalid_grant");
      // The family is gone: the newest refresh token and the session's access tokens too.
      oauthError(await http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: third.refresh_token }), 400, "invalid_grant");
      assert.equal((await http.get("/v1/me", third.access_token)).status, 401);
      const end = Date.now() + 5_000;
      while (!world.events.some((e) => e.type === "identity.refresh_token_reused.v1") && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(world.events.some((e) => e.type === "identity.refresh_token_reused.v1"));
    });

    test("two refreshes racing with one token: one wins, the other is reuse and ends the family", async () => {
      const { email, password } = await signUp();
      const first = tokensOf(await passwordGrant(email, password));
      const refresh = () => http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: first.refresh_token });
      const results = await Promise.all([refresh(), refresh()]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400]);
      const winner = results.find((r) => r.status === 200)!;
      oauthError(await http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: tokensOf(winner).refresh_token }), 400, "invalid_grant");
    });

    test("authorization code + PKCE S256 through the hosted sign-in page", async () => {
      const { email, password } = await signUp();
      const { verifier, challenge } = pkcePair();
      const query = new URLSearchParams({
        response_type: "code",
        client_id: MOBILE,
        redirect_uri: REDIRECT,
        scope: "openid email",
        state: "st-123",
        code_challenge: challenge,
        code_challenge_method: "S256",
        nonce: "n-1",
      });
      const page = await http.get(`/oauth2/authorize?${query}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(page.text, /<form method="post" action="\/oauth2\/authorize">/);
      assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);

      const formToken = formTokenOf(page.text);
      const signIn = (v: Record<string, string>) => http.form("/oauth2/authorize", { ...Object.fromEntries(query), form_token: formToken, email, password, ...v }, SAME_ORIGIN);
      const wrong = await signIn({ password: "wrong-password" });
      assert.equal(wrong.status, 401);
      assert.match(wrong.text, /email or password is wrong/);
      assert.ok(formTokenOf(wrong.text), "the page shown again carries a form token");

      const codeOf = async () => {
        const ok = await signIn({});
        assert.equal(ok.status, 302, ok.text);
        const location = new URL(ok.headers.get("location")!);
        assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
        assert.equal(location.searchParams.get("state"), "st-123");
        assert.equal(location.searchParams.get("iss"), ISSUER);
        return location.searchParams.get("code")!;
      };
      const exchange = (code: string, codeVerifier: string, redirectUri = REDIRECT) =>
        http.form("/oauth2/token", { grant_type: "authorization_code", client_id: MOBILE, code, code_verifier: codeVerifier, redirect_uri: redirectUri });

      oauthError(await exchange(await codeOf(), pkcePair().verifier), 400, "invalid_grant");
      oauthError(await exchange(await codeOf(), verifier, "http://127.0.0.1/other"), 400, "invalid_grant");
      const code = await codeOf();
      const t = tokensOf(await exchange(code, verifier));
      assert.equal(decodeJwt(t.id_token!).nonce, "n-1");
      assert.equal((await http.get("/v1/me", t.access_token)).status, 200);
      // A code is single-use; its second use also revokes what the first one gave.
      oauthError(await exchange(code, verifier), 400, "invalid_grant");
      assert.equal((await http.get("/v1/me", t.access_token)).status, 401);
    });

    test("the sign-in form refuses cross-site posts and forms not issued for the request (login CSRF)", async () => {
      const { email, password } = await signUp();
      const params = {
        response_type: "code",
        client_id: MOBILE,
        redirect_uri: REDIRECT,
        scope: "openid",
        state: "csrf-1",
        code_challenge: pkcePair().challenge,
        code_challenge_method: "S256",
        nonce: "",
      };
      const page = await http.get(`/oauth2/authorize?${new URLSearchParams(params)}`);
      assert.equal(page.status, 200, page.text);
      assert.equal(page.headers.get("referrer-policy"), "same-origin", "no-referrer would make browsers post Origin: null");
      const form_token = formTokenOf(page.text);
      const post = (fields: Record<string, string>, headers: Record<string, string>) => http.form("/oauth2/authorize", { ...params, form_token, email, password, ...fields }, headers);
      const refusedOnAPage = (res: Res, status: number, text: RegExp) => {
        assert.equal(res.status, status, res.text);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
        assert.equal(res.headers.get("location"), null, "never a redirect: the post may be an attacker's");
        assert.match(res.text, text);
      };

      // Where the post comes from: another site, an opaque origin, or nothing said at all.
      const elsewhere: Record<string, string>[] = [{ origin: "https://evil.example" }, { origin: "http://127.0.0.1:8081" }, { origin: "null" }, { "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, {}];
      for (const headers of elsewhere) {
        refusedOnAPage(await post({}, headers), 403, /not sent from the sign-in page/);
      }
      // The form token: missing, altered, or moved to other parameters (another PKCE challenge, state, redirect).
      refusedOnAPage(await post({ form_token: "" }, SAME_ORIGIN), 400, /does not belong to this request/);
      refusedOnAPage(await post({ form_token: `${form_token.slice(0, -2)}AA` }, SAME_ORIGIN), 400, /does not belong/);
      const tampered: Record<string, string>[] = [{ code_challenge: pkcePair().challenge }, { state: "csrf-2" }, { redirect_uri: "flotilla://oauth/callback" }, { scope: "openid email" }, { nonce: "n" }];
      for (const fields of tampered) {
        refusedOnAPage(await post(fields, SAME_ORIGIN), 400, /does not belong/);
      }
      // From the page itself: Origin is the issuer's, or (no Origin) Sec-Fetch-Site same-origin.
      for (const headers of [SAME_ORIGIN, { "sec-fetch-site": "same-origin" }]) {
        const ok = await post({}, headers);
        assert.equal(ok.status, 302, ok.text);
        assert.ok(new URL(ok.headers.get("location")!).searchParams.get("code"));
      }
      // Ten minutes later the form has expired: shown again with a fresh token, which works.
      world.advance(10 * 60_000 + 1_000);
      const expired = await post({}, SAME_ORIGIN);
      assert.equal(expired.status, 400, expired.text);
      assert.match(expired.text, /expired/);
      const fresh = formTokenOf(expired.text);
      assert.notEqual(fresh, form_token);
      assert.equal((await post({ form_token: fresh }, SAME_ORIGIN)).status, 302);
    });

    test("the authorization endpoint refuses plain PKCE, a missing challenge and unregistered redirect URIs", async () => {
      const params = { response_type: "code", client_id: MOBILE, redirect_uri: REDIRECT, state: "s", code_challenge: "a".repeat(43) };
      const plain = await http.get(`/oauth2/authorize?${new URLSearchParams({ ...params, code_challenge_method: "plain" })}`);
      assert.equal(plain.status, 302);
      const back = new URL(plain.headers.get("location")!);
      assert.equal(back.searchParams.get("error"), "invalid_request");
      assert.match(back.searchParams.get("error_description")!, /S256/);
      const none = await http.get(`/oauth2/authorize?${new URLSearchParams({ ...params, code_challenge: "", code_challenge_method: "S256" })}`);
      assert.equal(new URL(none.headers.get("location")!).searchParams.get("error"), "invalid_request");
      // Never redirect to an unregistered URI (open redirector): show an error page instead.
      const evil = await http.get(`/oauth2/authorize?${new URLSearchParams({ ...params, code_challenge_method: "S256", redirect_uri: "https://evil.example/cb" })}`);
      assert.equal(evil.status, 400);
      assert.equal(evil.headers.get("location"), null);
      const prefix = await http.get(`/oauth2/authorize?${new URLSearchParams({ ...params, code_challenge_method: "S256", redirect_uri: `${REDIRECT}/x` })}`);
      assert.equal(prefix.status, 400);
    });

    test("RBAC: admin routes need identity:admin; a role assigned shows in the next token", async () => {
      const { email, password, accountId } = await signUp();
      const user = tokensOf(await passwordGrant(email, password)).access_token;
      assert.equal((await http.get("/v1/identity/roles", user)).status, 403);
      const admin = await adminToken();
      assert.ok((decodeJwt(admin).permissions as string[]).includes("identity:admin"));
      const role = await http.json("PUT", "/v1/identity/roles/editor", { permissions: ["catalog:write"] }, admin);
      assert.equal(role.status, 200, role.text);
      const assigned = await http.json("PUT", `/v1/identity/accounts/${accountId}/roles/editor`, {}, admin);
      assert.equal(assigned.status, 200, assigned.text);
      assert.deepEqual((assigned.body.account as { roles: string[] }).roles, ["editor"]);
      const next = decodeJwt(tokensOf(await passwordGrant(email, password)).access_token);
      assert.deepEqual(next.roles, ["editor"]);
      assert.deepEqual(next.permissions, ["catalog:write"]);
      const removed = await http.json("DELETE", `/v1/identity/accounts/${accountId}/roles/editor`, undefined, admin);
      assert.deepEqual((removed.body.account as { roles: string[] }).roles, []);
      assert.equal((await http.json("PUT", `/v1/identity/accounts/${accountId}/roles/nope`, {}, admin)).status, 404);
      const end = Date.now() + 5_000;
      const changes = () => world.events.filter((e) => e.type === "identity.account_roles_changed.v1" && e.subject === accountId);
      while (changes().length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(changes().length, 2, "one event per change, through the outbox");
    });

    test("client credentials, introspection (RFC 7662) and revocation (RFC 7009)", async () => {
      const admin = await adminToken();
      const made = await http.json("POST", "/v1/identity/clients", { clientId: `svc-${kind}`, confidential: true, grantTypes: ["client_credentials"], scopes: ["reports"], permissions: ["catalog:write"] }, admin);
      assert.equal(made.status, 200, made.text);
      const secret = made.body.clientSecret as string;
      assert.ok(secret.length > 40);
      const basic = `Basic ${Buffer.from(`svc-${kind}:${secret}`).toString("base64")}`;
      const cc = tokensOf(await http.form("/oauth2/token", { grant_type: "client_credentials", client_id: `svc-${kind}`, client_secret: secret }));
      assert.equal(cc.refresh_token, undefined);
      const claims = decodeJwt(cc.access_token);
      assert.equal(claims.sub, `svc-${kind}`);
      assert.deepEqual(claims.permissions, ["catalog:write"]);
      // client_secret_basic (RFC 6749 2.3.1) works as well as client_secret_post.
      tokensOf(await http.form("/oauth2/token", { grant_type: "client_credentials" }, { authorization: basic }));
      oauthError(await http.form("/oauth2/token", { grant_type: "client_credentials", client_id: `svc-${kind}`, client_secret: `${secret}x` }), 401, "invalid_client");
      const badBasic = await http.form("/oauth2/token", { grant_type: "client_credentials" }, { authorization: `Basic ${Buffer.from(`svc-${kind}:nope`).toString("base64")}` });
      oauthError(badBasic, 401, "invalid_client");
      assert.match(badBasic.headers.get("www-authenticate") ?? "", /^Basic realm=/);
      oauthError(await http.form("/oauth2/token", { grant_type: "password", client_id: `svc-${kind}`, client_secret: secret, username: "a@b.c", password: "x" }), 400, "unauthorized_client");

      const { email, password } = await signUp();
      const user = tokensOf(await passwordGrant(email, password));
      const introspect = (token: string) => http.form("/oauth2/introspect", { token, client_id: `svc-${kind}`, client_secret: secret });
      const active = await introspect(user.access_token);
      assert.equal(active.status, 200, active.text);
      assert.equal(active.body.active, true);
      assert.equal(active.body.sub, decodeJwt(user.access_token).sub);
      assert.equal(typeof active.body.exp, "number");
      assert.deepEqual((await introspect("garbage")).body, { active: false });
      assert.equal((await introspect(user.refresh_token)).body.active, true);
      // Introspection is for confidential clients only.
      oauthError(await http.form("/oauth2/introspect", { token: user.access_token, client_id: MOBILE }), 401, "invalid_client");

      // Revoking the access token: introspection and identity's own checks refuse it at once.
      const revoked = await http.form("/oauth2/revoke", { token: user.access_token, token_type_hint: "access_token", client_id: MOBILE });
      assert.equal(revoked.status, 200, revoked.text);
      assert.deepEqual((await introspect(user.access_token)).body, { active: false });
      assert.equal((await http.get("/v1/me", user.access_token)).status, 401);
      // Revoking the refresh token ends the session.
      assert.equal((await http.form("/oauth2/revoke", { token: user.refresh_token, client_id: MOBILE })).status, 200);
      oauthError(await http.form("/oauth2/token", { grant_type: "refresh_token", client_id: MOBILE, refresh_token: user.refresh_token }), 400, "invalid_grant");
      // Unknown tokens: 200 as well (RFC 7009 2.2).
      assert.equal((await http.form("/oauth2/revoke", { token: "nothing", client_id: MOBILE })).status, 200);
    });

    test("sessions: list mine, revoke one, log out other devices; never another user's", async () => {
      const a = await signUp();
      const phone = tokensOf(await passwordGrant(a.email, a.password, { device_name: "phone" }));
      const tablet = tokensOf(await passwordGrant(a.email, a.password, { device_name: "tablet" }));
      const laptop = tokensOf(await passwordGrant(a.email, a.password, { device_name: "laptop" }));
      const list = await http.get("/v1/me/sessions", phone.access_token);
      assert.equal(list.status, 200, list.text);
      const sessions = list.body.sessions as { sessionId: string; deviceName: string; current: boolean }[];
      assert.deepEqual(sessions.map((s) => s.deviceName).sort(), ["laptop", "phone", "tablet"]);
      assert.deepEqual(sessions.filter((s) => s.current).map((s) => s.deviceName), ["phone"]);
      const tabletSession = decodeJwt(tablet.access_token).sid as string;

      const b = await signUp();
      const bToken = tokensOf(await passwordGrant(b.email, b.password)).access_token;
      const bList = (await http.get("/v1/me/sessions", bToken)).body.sessions as { sessionId: string }[];
      assert.ok(!bList.some((s) => s.sessionId === tabletSession), "B does not see A's sessions");
      const steal = await http.json("DELETE", `/v1/me/sessions/${tabletSession}`, undefined, bToken);
      assert.equal(steal.status, 404);
      assert.equal((await http.get("/v1/me", tablet.access_token)).status, 200, "A's tablet is still signed in");

      assert.equal((await http.json("DELETE", `/v1/me/sessions/${tabletSession}`, undefined, phone.access_token)).status, 200);
      assert.equal((await http.get("/v1/me", tablet.access_token)).status, 401);
      const others = await http.json("POST", "/v1/me/sessions/revoke-others", {}, phone.access_token);
      assert.equal(others.body.revoked, 1);
      assert.equal((await http.get("/v1/me", laptop.access_token)).status, 401);
      assert.equal((await http.get("/v1/me", phone.access_token)).status, 200);
    });

    test("sessions show the device: the user agent the gateway forwards, bounded", async () => {
      const { email, password } = await signUp();
      const agent = "FlotillaApp/2.3 (iPhone15,2; iOS 18.1) CFNetwork/1568";
      const t = tokensOf(await passwordGrant(email, password, { device_name: "Ana's iPhone" }, { "user-agent": agent }));
      tokensOf(await passwordGrant(email, password, { device_name: "long" }, { "user-agent": `X/${"y".repeat(2000)}` }));
      const list = await http.get("/v1/me/sessions", t.access_token);
      assert.equal(list.status, 200, list.text);
      const sessions = list.body.sessions as { deviceName: string; userAgent: string; current: boolean }[];
      const mine = sessions.find((s) => s.current)!;
      assert.deepEqual([mine.deviceName, mine.userAgent], ["Ana's iPhone", agent]);
      const long = sessions.find((s) => s.deviceName === "long")!;
      assert.equal(long.userAgent, `X/${"y".repeat(254)}`);
    });

    test("no plaintext email, phone or password in identity's tables", async () => {
      const email = freshEmail("secret-holder");
      const { password } = await signUp(email);
      const t = tokensOf(await passwordGrant(email, password));
      await http.json("PATCH", "/v1/me", { phone: "+447700900123" }, t.access_token);
      const db = await world.provider.open("identity");
      const tables = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()");
      let dump = "";
      for (const { table_name } of tables) dump += JSON.stringify(await db.query(`SELECT * FROM "${table_name}"`));
      assert.ok(dump.includes("acc_"), "the dump has account rows");
      for (const secret of [email, email.split("@")[0]!, "447700900123", password, t.refresh_token]) assert.ok(!dump.includes(secret), `found ${secret} in the dump`);
    });

    test("brute force: failures per account and per address back off exponentially; the lock is an event", async () => {
      const { email, password, accountId } = await signUp();
      const from = { "x-forwarded-for": "198.51.100.7" };
      for (let i = 0; i < 5; i += 1) oauthError(await passwordGrant(email, "wrong-password", {}, from), 400, "invalid_grant");
      // Blocked: even the right password is refused, without being checked.
      const blocked = await passwordGrant(email, password, {}, { "x-forwarded-for": "198.51.100.8" });
      oauthError(blocked, 429, "temporarily_unavailable");
      assert.ok(blocked.headers.get("retry-after"));
      // The address is blocked for other accounts too.
      const other = await signUp();
      oauthError(await passwordGrant(other.email, other.password, {}, from), 429, "temporarily_unavailable");
      const end = Date.now() + 5_000;
      const locked = () => world.events.find((e) => e.type === "identity.account_locked.v1" && e.subject === accountId);
      while (!locked() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(locked());
      // After the (1 s) block, one more failure doubles it; then the right password works.
      world.advance(1_100);
      oauthError(await passwordGrant(email, "wrong-again", {}, { "x-forwarded-for": "198.51.100.9" }), 400, "invalid_grant");
      oauthError(await passwordGrant(email, password, {}, { "x-forwarded-for": "198.51.100.9" }), 429, "temporarily_unavailable");
      world.advance(2_100);
      tokensOf(await passwordGrant(email, password, {}, { "x-forwarded-for": "198.51.100.9" }));
    });

    test("signing keys rotate with overlap: old tokens stay valid until they expire", async () => {
      const { email, password } = await signUp();
      const old = tokensOf(await passwordGrant(email, password));
      const oldKid = decodeProtectedHeader(old.access_token).kid!;
      const rotated = await http.json("POST", "/v1/identity/signing-keys", {}, await adminToken());
      assert.equal(rotated.status, 200, rotated.text);
      const newKid = rotated.body.kid as string;
      assert.notEqual(newKid, oldKid);
      const fresh = tokensOf(await passwordGrant(email, password));
      assert.equal(decodeProtectedHeader(fresh.access_token).kid, newKid);
      const kids = () => http.get("/.well-known/jwks.json").then((r) => (r.body.keys as { kid: string }[]).map((k) => k.kid));
      assert.deepEqual((await kids()).sort(), [newKid, oldKid].sort());
      assert.equal((await http.get("/v1/me", old.access_token)).status, 200, "a token of the old key is still accepted");
      assert.equal((await http.get("/v1/me", fresh.access_token)).status, 200);
      // Past the longest token lifetime (+ skew), the old key leaves the JWKS.
      world.advance((600 + 31) * 1000);
      assert.deepEqual(await kids(), [newKid]);
    });
  });
}
