import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultGatewayConfig } from "../config.ts";
import { request, startSecured } from "../../test/support/secured-gateway.ts";
import { compareVersions, parseVersion } from "./app-version.ts";

test("versions: dotted numbers, suffixes ignored, missing parts are 0", () => {
  assert.deepEqual(parseVersion("2.4.1"), [2, 4, 1]);
  assert.deepEqual(parseVersion("2.4.1-beta.2"), [2, 4, 1]);
  assert.deepEqual(parseVersion("10+345"), [10]);
  for (const bad of ["", "v2", "2..1", "2.4.1.0.9", "1e3", "2.4.1 beta", "-1"]) assert.equal(parseVersion(bad), undefined, bad);
  assert.equal(compareVersions([2, 4], [2, 4, 0]), 0);
  assert.ok(compareVersions([2, 10], [2, 9, 9]) > 0);
  assert.ok(compareVersions([2, 3, 9], [2, 4]) < 0);
});

describe("minimum app version over HTTP", () => {
  const appVersions = {
    platforms: {
      ios: { minimum: "2.4.0", storeUrl: "https://apps.apple.com/app/id000" },
      Android: { minimum: "3.0", storeUrl: "" },
    },
  };

  test("an app below the minimum gets 426 with an upgrade hint; the service is not called", async () => {
    await using gw = await startSecured({ config: { appVersions } });
    const res = await request(gw.base, "/v1/catalog/events", { headers: { "x-app-platform": "ios", "x-app-version": "2.3.9" } });
    assert.equal(res.status, 426, res.text);
    assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
    assert.equal(res.body?.code, "GW_ERR_UPGRADE_REQUIRED");
    assert.equal(res.body?.instance, res.headers.get("x-request-id"));
    assert.deepEqual(res.body?.upgrade, { platform: "ios", minimumVersion: "2.4.0", storeUrl: "https://apps.apple.com/app/id000" });
    assert.equal(gw.catalog.calls.length, 0);
  });

  test("at or above the minimum, other platforms and requests without the headers pass", async () => {
    await using gw = await startSecured({ config: { appVersions } });
    for (const headers of [
      { "x-app-platform": "ios", "x-app-version": "2.4.0" },
      { "x-app-platform": "IOS", "x-app-version": "2.10.0-rc.1" },
      { "x-app-platform": "android", "x-app-version": "3.0.0" },
      { "x-app-platform": "web", "x-app-version": "0.1" },
      { "x-app-version": "0.1" },
      {},
    ]) {
      assert.equal((await request(gw.base, "/v1/catalog/events", { headers })).status, 200, JSON.stringify(headers));
    }
    const old = await request(gw.base, "/v1/catalog/events", { headers: { "x-app-platform": "ANDROID", "x-app-version": "2.99" } });
    assert.equal(old.status, 426);
    assert.deepEqual(old.body?.upgrade, { platform: "ANDROID", minimumVersion: "3.0" });
  });

  test("it runs before auth: an outdated app learns to upgrade rather than to log in", async () => {
    await using gw = await startSecured({ config: { appVersions } });
    const res = await request(gw.base, "/v1/catalog/events", { method: "POST", headers: { "x-app-platform": "ios", "x-app-version": "1.0" } });
    assert.equal(res.status, 426);
  });

  test("malformed headers are a 400 problem", async () => {
    await using gw = await startSecured({ config: { appVersions } });
    for (const headers of [
      { "x-app-platform": "ios", "x-app-version": "latest" },
      { "x-app-platform": "i o s", "x-app-version": "1.0" },
    ]) {
      const res = await request(gw.base, "/v1/catalog/events", { headers });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body?.code, "GW_ERR_APP_VERSION_INVALID");
    }
  });

  test("minimum versions follow the config without a restart", async () => {
    await using gw = await startSecured();
    const headers = { "x-app-platform": "ios", "x-app-version": "2.0.0" };
    assert.equal((await request(gw.base, "/v1/catalog/events", { headers })).status, 200);
    gw.config = { ...defaultGatewayConfig, appVersions };
    assert.equal((await request(gw.base, "/v1/catalog/events", { headers })).status, 426);
  });
});
