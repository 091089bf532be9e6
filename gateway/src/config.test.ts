import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FlotillaError } from "@flotilla/kit";
import { defaultGatewayConfig, type GatewayConfig, loadGatewayConfig, watchGatewayConfig } from "./config.ts";

const SHA = "a".repeat(64);

function tempFile(content: unknown): { file: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), "gw-config-"));
  const file = join(dir, "gateway.json");
  writeFileSync(file, JSON.stringify(content));
  return { file, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FlotillaError);
    assert.equal(error.code, "KIT_ERR_CONFIG_INVALID");
    return error.message;
  }
  assert.fail("expected KIT_ERR_CONFIG_INVALID");
}

test("no file and no env: the typed defaults", () => {
  const config = loadGatewayConfig({ env: {} });
  assert.deepEqual(config, defaultGatewayConfig);
  assert.equal(config.auth.issuer, "http://127.0.0.1:8080");
  assert.equal(config.auth.audience, "flotilla");
  assert.equal(config.limits.bodyLimit, 1024 * 1024);
  assert.deepEqual(config.appKeys, []);
});

test("file values merge over the defaults, env over the file", () => {
  using f = tempFile({
    auth: { audience: "mobile" },
    cors: { origins: ["https://app.example.com"] },
    appKeys: [{ id: "ios-app", platform: "ios", sha256: SHA }],
    appVersions: { platforms: { ios: { minimum: "2.4.0", storeUrl: "https://apps.apple.com/app/id1" } } },
  });
  const config = loadGatewayConfig({
    env: { FLOTILLA_GATEWAY_CONFIG: f.file, FLOTILLA_PUBLIC_URL: "https://api.example.com", FLOTILLA_GATEWAY_CORS_ORIGINS: "https://a.example, https://b.example" },
  });
  assert.equal(config.auth.audience, "mobile");
  assert.equal(config.auth.issuer, "https://api.example.com");
  assert.equal(config.auth.clockToleranceSec, 30);
  assert.deepEqual(config.cors.origins, ["https://a.example", "https://b.example"]);
  assert.deepEqual(config.appKeys, [{ id: "ios-app", platform: "ios", sha256: SHA, revoked: false }]);
  assert.equal(config.appVersions.platforms.ios?.minimum, "2.4.0");
});

test("every bad value is named by its path or variable", () => {
  using f = tempFile({
    limits: { bodyLimit: 12 },
    auth: { isuer: "x" },
    cors: { origins: ["https://ok.example", "ftp://no"] },
    appKeys: [{ id: "a", platform: "ios" }],
    appVersions: { platforms: { ios: { minimum: "two" } } },
  });
  const message = problemsOf(() => loadGatewayConfig({ env: { FLOTILLA_GATEWAY_CONFIG: f.file, FLOTILLA_GATEWAY_TIMEOUT_MS: "soon" } }));
  assert.match(message, /limits\.bodyLimit: expected >= 1024/);
  assert.match(message, /auth\.isuer: unknown setting/);
  assert.match(message, /cors\.origins\[1\]/);
  assert.match(message, /appKeys\[0\]\.sha256: required/);
  assert.match(message, /appVersions\.platforms\.ios\.minimum/);
  assert.match(message, /FLOTILLA_GATEWAY_TIMEOUT_MS="soon": limits\.requestTimeoutMs: expected an integer/);
});

test("gateway workers: one by default, more only with shared state in Redis", () => {
  assert.equal(loadGatewayConfig({ env: {} }).server.workers, 1);
  const two = loadGatewayConfig({ env: { FLOTILLA_GATEWAY_WORKERS: "2", FLOTILLA_GATEWAY_REDIS_URL: "redis://127.0.0.1:6379" } });
  assert.equal(two.server.workers, 2);
  assert.equal(loadGatewayConfig({ env: { FLOTILLA_GATEWAY_WORKERS: "0", FLOTILLA_GATEWAY_REDIS_URL: "redis://127.0.0.1:6379" } }).server.workers, 0);
  assert.match(problemsOf(() => loadGatewayConfig({ env: { FLOTILLA_GATEWAY_WORKERS: "2" } })), /server\.workers \(FLOTILLA_GATEWAY_WORKERS\): 2 processes need redis\.url/);
  assert.match(problemsOf(() => loadGatewayConfig({ env: { FLOTILLA_GATEWAY_WORKERS: "0" } })), /one process per CPU need redis\.url/);
  assert.match(problemsOf(() => loadGatewayConfig({ env: { FLOTILLA_GATEWAY_WORKERS: "many" } })), /FLOTILLA_GATEWAY_WORKERS="many": server\.workers: expected an integer/);
  assert.match(problemsOf(() => loadGatewayConfig({ env: { FLOTILLA_GATEWAY_WORKERS: "-1" } })), /server\.workers: expected >= 0/);
});

test("a file that is not JSON, or missing, is named", () => {
  using f = tempFile({});
  writeFileSync(f.file, "{ nope");
  assert.match(problemsOf(() => loadGatewayConfig({ file: f.file, env: {} })), /gateway\.json is not valid JSON/);
  assert.match(problemsOf(() => loadGatewayConfig({ file: `${f.file}.missing`, env: {} })), /FLOTILLA_GATEWAY_CONFIG: cannot read/);
});

test("a __proto__ key in a map does not reach the prototype", () => {
  using f = tempFile({});
  writeFileSync(f.file, '{"appVersions":{"platforms":{"__proto__":{"minimum":"1"}}}}');
  const platforms = loadGatewayConfig({ file: f.file, env: {} }).appVersions.platforms;
  assert.ok(Object.hasOwn(platforms, "__proto__"), "kept as a plain own key");
  assert.equal(Object.getPrototypeOf(platforms), Object.prototype);
  assert.equal(({} as Record<string, unknown>).minimum, undefined);
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await sleep(25);
  assert.ok(check(), "the condition never became true");
}

test("hot reload: hot sections follow the file, others and invalid edits do not", async () => {
  using f = tempFile({ appKeys: [], limits: { bodyLimit: 2048 } });
  const warnings: string[] = [];
  const log = { warn: (_o: object, msg: string) => void warnings.push(msg), info: () => {} };
  const source = watchGatewayConfig({ file: f.file, env: {}, log });
  const changes: GatewayConfig[] = [];
  source.onChange((c) => changes.push(c));
  try {
    writeFileSync(f.file, JSON.stringify({ appKeys: [{ id: "web", platform: "web", sha256: SHA }], limits: { bodyLimit: 4096 } }));
    await until(() => source.current().appKeys.length === 1);
    assert.equal(source.current().limits.bodyLimit, 2048, "limits need a restart");
    assert.equal(changes.length, 1);

    writeFileSync(f.file, JSON.stringify({ appKeys: [{ id: "web" }] }));
    await until(() => warnings.length === 1);
    assert.equal(source.current().appKeys[0]?.id, "web");

    // An editor's save: write a new file, rename it over the old one.
    writeFileSync(`${f.file}.tmp`, JSON.stringify({ appKeys: [{ id: "web", platform: "web", sha256: SHA, revoked: true }] }));
    renameSync(`${f.file}.tmp`, f.file);
    await until(() => source.current().appKeys[0]?.revoked === true);
  } finally {
    source.close();
  }
});
