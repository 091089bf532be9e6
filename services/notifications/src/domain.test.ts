import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_WEB_PUSH_HOSTS } from "./config.ts";
import { inQuietHours, isTimeZone, parseRetryAfter, retryDelayMs, truncateUtf8, webPushHostAllowed } from "./domain.ts";

test("quiet hours are read on the wall clock of their time zone, across midnight and daylight saving", () => {
  const night = { start: "22:00", end: "07:00", timeZone: "Europe/Lisbon" };
  // Winter: Lisbon = UTC. Summer: UTC+1.
  assert.equal(inQuietHours(new Date("2026-01-10T23:30:00Z"), night), true);
  assert.equal(inQuietHours(new Date("2026-01-10T06:59:00Z"), night), true);
  assert.equal(inQuietHours(new Date("2026-01-10T07:00:00Z"), night), false);
  assert.equal(inQuietHours(new Date("2026-07-10T21:30:00Z"), night), true, "22:30 in Lisbon summer time");
  assert.equal(inQuietHours(new Date("2026-07-10T20:30:00Z"), night), false);
  const lunch = { start: "12:00", end: "13:00", timeZone: "Asia/Tokyo" };
  assert.equal(inQuietHours(new Date("2026-03-01T03:15:00Z"), lunch), true);
  assert.equal(inQuietHours(new Date("2026-03-01T04:15:00Z"), lunch), false);
  assert.equal(inQuietHours(new Date("2026-03-01T03:15:00Z"), { ...lunch, end: "12:00" }), false, "equal bounds: none");
});

test("time zones are IANA names", () => {
  assert.equal(isTimeZone("Europe/Lisbon"), true);
  assert.equal(isTimeZone("Mars/Olympus"), false);
});

test("Retry-After is seconds or an HTTP date; retries back off but never sooner than asked", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now), 10_000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
  assert.equal(retryDelayMs(1, 1000, undefined, () => 1), 1000);
  assert.equal(retryDelayMs(3, 1000, undefined, () => 0), 2000);
  assert.equal(retryDelayMs(1, 1000, 60_000, () => 1), 60_000);
});

test("truncation keeps whole characters within the byte budget", () => {
  assert.equal(truncateUtf8("short", 10), "short");
  const cut = truncateUtf8("ééééééé", 9);
  assert.ok(Buffer.byteLength(cut) <= 9);
  assert.match(cut, /^é+…$/);
});

test("Web Push endpoints must point at an allowed push service (no SSRF to internal hosts)", () => {
  const allowed = DEFAULT_WEB_PUSH_HOSTS.split(",");
  assert.ok(webPushHostAllowed("https://fcm.googleapis.com/fcm/send/abc", allowed));
  assert.ok(webPushHostAllowed("https://updates.push.services.mozilla.com/wpush/v2/x", allowed));
  assert.ok(webPushHostAllowed("https://web.push.apple.com/QGx", allowed));
  assert.ok(webPushHostAllowed("https://wns2-db5p.notify.windows.com/w/?token=x", allowed));
  for (const bad of [
    "https://169.254.169.254/latest/meta-data",
    "https://localhost/x",
    "https://fcm.googleapis.com.evil.example/x",
    "https://evilnotify.windows.com/x",
    "https://notify.windows.com/x",
    "http://fcm.googleapis.com/x",
    "https://fcm.googleapis.com:8443/x",
    "https://user:pw@fcm.googleapis.com/x",
    "not a url",
  ]) {
    assert.equal(webPushHostAllowed(bad, allowed), false, bad);
  }
  assert.ok(webPushHostAllowed("https://127.0.0.1:9443/push/1", ["127.0.0.1:9443"]));
  assert.equal(webPushHostAllowed("https://127.0.0.1:9444/push/1", ["127.0.0.1:9443"]), false);
});
