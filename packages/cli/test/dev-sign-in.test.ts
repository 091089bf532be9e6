// `flotilla dev --port 0`: the issuer follows the port dev listens on (identity
// and the gateway agree on it), and the hosted sign-in page works in a real
// browser from its own origin while a form posted from another site is refused.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decodeJwt } from "jose";
import { launchBrowser } from "../../../test/support/browser.ts";
import { getJson, type Running, runFlotilla } from "../../../test/support/processes.ts";

const REDIRECT = "http://127.0.0.1/callback";
let dev: Running;
let base: string;
const dataDir = mkdtempSync(join(tmpdir(), "flotilla-dev-issuer-"));

before(async () => {
  // No FLOTILLA_PUBLIC_URL: dev must derive it from the port it got.
  dev = runFlotilla(["dev", "--port", "0", "--no-seed", "--data-dir", dataDir], { FLOTILLA_PUBLIC_URL: "" });
  base = await dev.waitFor(/gateway\s+(http:\/\/\S+)/, 120_000);
});

after(async () => {
  assert.equal(await dev.stop("SIGTERM"), 0, dev.output().slice(-2000));
  rmSync(dataDir, { recursive: true, force: true });
});

function devAdmin(): { email: string; password: string } {
  const [, email, password] = /admin\s+(\S+) \/ (\S+)/.exec(dev.output()) ?? [];
  assert.ok(email && password, "flotilla dev prints the dev admin");
  return { email, password };
}

function authorizeQuery(): URLSearchParams {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return new URLSearchParams({ response_type: "code", client_id: "flotilla-mobile", redirect_uri: REDIRECT, scope: "openid", state: "s-1", code_challenge: challenge, code_challenge_method: "S256" });
}

test("the issuer is the address dev listens on, for identity and the gateway alike", async () => {
  assert.doesNotMatch(base, /:8080$/);
  const meta = await getJson(`${base}/.well-known/openid-configuration`);
  assert.equal((meta.body as { issuer: string }).issuer, base);
  const { email, password } = devAdmin();
  const res = await fetch(`${base}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", client_id: "flotilla-mobile", username: email, password }),
  });
  assert.equal(res.status, 200);
  const token = ((await res.json()) as { access_token: string }).access_token;
  assert.equal(decodeJwt(token).iss, base);
  // The gateway verifies `iss` against its own setting: it accepts the token, so it follows the port too.
  const me = await getJson(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(me.status, 200, JSON.stringify(me.body));
});

test("in a real browser: the sign-in page signs in from its own origin; a form posted from another site is refused", async () => {
  const { email, password } = devAdmin();
  // Another site (localhost is not the same site as 127.0.0.1) with a copy of a valid form, posted on load.
  const query = authorizeQuery();
  const page0 = await (await fetch(`${base}/oauth2/authorize?${query}`)).text();
  const formToken = /name="form_token" value="([^"]+)"/.exec(page0)?.[1];
  assert.ok(formToken);
  const fields = { ...Object.fromEntries(query), form_token: formToken, email, password };
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, "&quot;")}">`)
    .join("");
  const evil: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><form id="f" method="post" action="${base}/oauth2/authorize">${inputs}</form><script>document.getElementById("f").submit()</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
  const evilPort = (evil.address() as { port: number }).port;

  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const blocked: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy/.test(m.text())) blocked.push(m.text());
    });

    await page.goto(`${base}/oauth2/authorize?${authorizeQuery()}`);
    await page.fill("#email", email);
    await page.fill("#password", password);
    // Nothing listens at the app's redirect URI: the browser setting off for it is the proof
    // (a route cannot catch it: Playwright does not route the targets of redirects).
    const [back] = await Promise.all([page.waitForRequest((r) => r.url().startsWith(REDIRECT)), page.click("button[type=submit]")]);
    const callback = new URL(back.url());
    assert.deepEqual(blocked, [], "the CSP lets the redirect back to the client through");
    assert.ok(callback.searchParams.get("code"), `signed in: ${callback}`);
    assert.equal(callback.searchParams.get("state"), "s-1");
    assert.equal(callback.searchParams.get("iss"), base);

    // A page of its own: the first one is still on its way to the (closed) redirect URI, whose
    // error page would interrupt a new navigation there.
    const other = await browser.newPage();
    const refused = other.waitForResponse((r) => r.url() === `${base}/oauth2/authorize` && r.request().method() === "POST");
    // The page posts its form while loading: wait only for the navigation to commit, or the
    // form's own navigation may abort this one.
    await other.goto(`http://localhost:${evilPort}/`, { waitUntil: "commit" });
    const response = await refused;
    assert.equal(response.status(), 403);
    assert.equal(response.headers().location, undefined);
    assert.match(await response.text(), /not sent from the sign-in page/);
  } finally {
    await browser.close();
    await new Promise((resolve) => evil.close(resolve));
  }
});
