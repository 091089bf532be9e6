import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { devPublicUrl, useDevPublicUrl } from "./dev-public-url.ts";

const listen = (port: number) => {
  const server = createServer();
  return new Promise<() => Promise<void>>((resolve, reject) =>
    server.once("error", reject).listen({ port, host: "127.0.0.1" }, () => resolve(() => new Promise((r) => server.close(() => r())))),
  );
};

test("the dev issuer is the listen address; wildcards become loopback", () => {
  assert.equal(devPublicUrl("127.0.0.1", 3000), "http://127.0.0.1:3000");
  assert.equal(devPublicUrl("localhost", 8080), "http://localhost:8080");
  assert.equal(devPublicUrl("0.0.0.0", 8080), "http://127.0.0.1:8080");
  assert.equal(devPublicUrl("::", 8080), "http://[::1]:8080");
  assert.equal(devPublicUrl("::1", 9000), "http://[::1]:9000");
});

test("FLOTILLA_PUBLIC_URL follows the port unless the user set it", async () => {
  const env: NodeJS.ProcessEnv = {};
  assert.equal((await useDevPublicUrl(env, "127.0.0.1", 3000)).port, 3000);
  assert.equal(env.FLOTILLA_PUBLIC_URL, "http://127.0.0.1:3000");
  const set: NodeJS.ProcessEnv = { FLOTILLA_PUBLIC_URL: "https://api.example.com" };
  assert.equal((await useDevPublicUrl(set, "127.0.0.1", 3000)).port, 3000);
  assert.equal(set.FLOTILLA_PUBLIC_URL, "https://api.example.com");
});

test("port 0 becomes a free port the URL names, held until released", async () => {
  const env: NodeJS.ProcessEnv = {};
  const chosen = await useDevPublicUrl(env, "127.0.0.1", 0);
  assert.ok(chosen.port > 0);
  assert.equal(env.FLOTILLA_PUBLIC_URL, `http://127.0.0.1:${chosen.port}`);
  await assert.rejects(listen(chosen.port), { code: "EADDRINUSE" }, "nobody else can take it meanwhile");
  await chosen.release();
  const close = await listen(chosen.port);
  await close();
});
