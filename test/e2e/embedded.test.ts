// `flotilla dev` end to end: one process, embedded defaults, driven over HTTP
// as a mobile app and a newcomer would.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { checkBadInput } from "../support/bad-input.ts";
import { launchBrowser } from "../support/browser.ts";
import { getJson, type Running, runFlotilla } from "../support/processes.ts";

let dev: Running;
let base: string;
const dataDir = mkdtempSync(join(tmpdir(), "flotilla-dev-"));

before(async () => {
  dev = runFlotilla(["dev", "--port", "0", "--data-dir", dataDir]);
  // Generous: PGlite's first start (initdb in WASM) is CPU-bound and CI runs test files in parallel.
  // How fast it starts is measured by the command itself ("ready in N ms"), not asserted here.
  base = await dev.waitFor(/gateway\s+(http:\/\/\S+)/, 120_000);
  const ready = await getJson(`${base}/readyz`);
  assert.equal(ready.status, 200);
});

after(async () => {
  const code = await dev.stop("SIGTERM");
  assert.equal(code, 0, dev.output().slice(-2000));
  rmSync(dataDir, { recursive: true, force: true });
});

test("prints the gateway and docs URLs", () => {
  assert.match(dev.output(), /docs\s+http:\/\/\S+\/docs/);
});

test("the seeded events are listed, paged and readable", async () => {
  const all = await getJson(`${base}/v1/catalog/events`);
  assert.equal(all.status, 200);
  const events = (all.body as { events: { eventId: string; startsAt: string }[] }).events;
  assert.ok(events.length >= 5, JSON.stringify(all.body));
  const starts = events.map((e) => Date.parse(e.startsAt));
  assert.deepEqual(starts, [...starts].sort((a, b) => a - b));

  const page1 = await getJson(`${base}/v1/catalog/events?page_size=2`);
  const p1 = page1.body as { events: { eventId: string }[]; nextPageToken: string };
  assert.equal(p1.events.length, 2);
  assert.ok(p1.nextPageToken);
  const page2 = await getJson(`${base}/v1/catalog/events?page_size=2&page_token=${encodeURIComponent(p1.nextPageToken)}`);
  const p2 = page2.body as { events: { eventId: string }[] };
  assert.deepEqual(p2.events.map((e) => e.eventId), events.slice(2, 4).map((e) => e.eventId));

  const lisbon = await getJson(`${base}/v1/catalog/events?city=lisbon`);
  assert.ok((lisbon.body as { events: { city: string }[] }).events.every((e) => e.city === "Lisbon"));

  const one = await getJson(`${base}/v1/catalog/events/${events[0]!.eventId}`);
  assert.equal((one.body as { event: { eventId: string } }).event.eventId, events[0]!.eventId);
});

test("the city calendar read model answers through the gateway", async () => {
  const r = await getJson(`${base}/v1/catalog/cities/Lisbon/calendar`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const days = (r.body as { days: { day: string; events: number }[] }).days;
  // Two seeded events are in Lisbon; the projection catches up asynchronously.
  const end = Date.now() + 10_000;
  let total = days.reduce((n, d) => n + d.events, 0);
  while (total < 2 && Date.now() < end) {
    await new Promise((res) => setTimeout(res, 100));
    const again = (await getJson(`${base}/v1/catalog/cities/Lisbon/calendar`)).body as { days: { events: number }[] };
    total = again.days.reduce((n, d) => n + d.events, 0);
  }
  assert.equal(total, 2);
});

test("/openapi.json is OpenAPI 3.1 listing the catalog routes", async () => {
  const doc = (await getJson(`${base}/openapi.json`)).body as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.equal(doc.openapi, "3.1.0");
  assert.ok(doc.paths["/v1/catalog/events"]?.get);
  assert.ok(doc.paths["/v1/catalog/events"]?.post);
  assert.ok(doc.paths["/v1/catalog/events/{event_id}"]?.get ?? doc.paths["/v1/catalog/events/{eventId}"]?.get);
});

test("/docs is served from local files", async () => {
  const res = await fetch(`${base}/docs`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1|localhost)/);
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !u.startsWith("#"));
  assert.ok(assets.length >= 2);
  for (const asset of assets) {
    const r = await fetch(new URL(asset, `${base}/docs/`));
    assert.equal(r.status, 200, asset);
    await r.arrayBuffer();
  }
});

test("/docs renders the API in a real browser with no request leaving the machine", async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const external: string[] = [];
    await page.route("**/*", (route) => {
      const host = new URL(route.request().url()).hostname;
      if (host === "127.0.0.1" || host === "localhost") return route.continue();
      external.push(route.request().url());
      return route.abort();
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/docs`);
    await page.locator(".opblock-summary-path").first().waitFor({ timeout: 20_000 });
    const paths = await page.locator(".opblock-summary-path").allInnerTexts();
    assert.ok(paths.some((p) => p.includes("/v1/catalog/events")), paths.join(", "));
    assert.deepEqual(external, []);
    assert.deepEqual(errors, []);
    if (process.env.FLOTILLA_SCREENSHOT) await page.screenshot({ path: process.env.FLOTILLA_SCREENSHOT, fullPage: false });
  } finally {
    await browser.close();
  }
});

/** A bearer of the dev admin `flotilla dev` prints (identity's bootstrap admin: every permission). */
async function adminAuth(): Promise<Record<string, string>> {
  const [, email, password] = /admin\s+(\S+) \/ (\S+)/.exec(dev.output()) ?? [];
  assert.ok(email && password, "flotilla dev prints the dev admin");
  const res = await fetch(`${base}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", client_id: "flotilla-mobile", username: email, password }),
  });
  assert.equal(res.status, 200);
  return { authorization: `Bearer ${((await res.json()) as { access_token: string }).access_token}` };
}

test("the printed dev admin signs in, and writes need a token", async () => {
  const anonymous = await getJson(`${base}/v1/catalog/events`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(anonymous.status, 401);
  const me = await getJson(`${base}/v1/me`, { headers: await adminAuth() });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.deepEqual((me.body as { account: { roles: string[] } }).account.roles, ["admin"]);
});

test("bad input gets clear 4xx problems, never a 5xx", async () => {
  await checkBadInput(base, await adminAuth());
});

test("data survives a restart (the PGlite data folder is durable)", async () => {
  const created = await getJson(`${base}/v1/catalog/events`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(await adminAuth()) },
    body: JSON.stringify({ title: "Durable", category: "EVENT_CATEGORY_OTHER", venue: "V", city: "Oslo", startsAt: new Date(Date.now() + 86_400_000).toISOString(), capacity: 5, priceMinor: "0", currency: "NOK" }),
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = (created.body as { event: { eventId: string } }).event.eventId;
  assert.equal(await dev.stop("SIGTERM"), 0);
  dev = runFlotilla(["dev", "--port", "0", "--data-dir", dataDir]);
  base = await dev.waitFor(/gateway\s+(http:\/\/\S+)/, 120_000);
  const again = await getJson(`${base}/v1/catalog/events/${id}`);
  assert.equal(again.status, 200);
  assert.equal((again.body as { event: { title: string } }).event.title, "Durable");
});
