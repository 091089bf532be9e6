// bench/auth: what authentication costs, in one run, side by side.
//
//   issuance  — `POST /oauth2/token` (password grant) through the real gateway
//               to the identity service at its production argon2id cost, beside
//               bare argon2id verifications at the same cost: the bound by design.
//   verify    — an authenticated call through the gateway (edge + auth plugins,
//               a fake catalog behind it) with the verified-token cache and
//               without it, beside the verifier alone (cached / uncached).
//
// Everything runs in this one process on 127.0.0.1 (server and load share the
// cores), so read the ratios, not the absolute figures.
//
//   node bench/auth/run.ts [--duration 4000] [--warmup 1000] [--concurrency 32]
import { parseArgs } from "node:util";
import { hash, verify } from "@node-rs/argon2";
import { createTokenVerifier } from "@flotilla/kit";
import { Pool } from "undici";
import { newEvent, startSecured } from "../../gateway/test/support/secured-gateway.ts";
import { client, freshEmail, GOOD_PASSWORD } from "../../services/identity/test/support/http.ts";
import { startWorld } from "../../services/identity/test/support/world.ts";
import { ARGON2_COST, argon2Hasher } from "../../services/identity/src/passwords.ts";
import { measure, type LoadResult } from "../rpc/load.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: process.env.BENCH_DURATION_MS ?? "4000" },
    warmup: { type: "string", default: process.env.BENCH_WARMUP_MS ?? "1000" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "32" },
  },
});
const durationMs = Number(values.duration);
const warmupMs = Number(values.warmup);
const concurrency = Number(values.concurrency);
const noServer = async () => Number.NaN;
const rows: { name: string; result: LoadResult }[] = [];
const run = async (name: string, call: () => Promise<unknown>, c: number) => {
  const result = await measure(call, c, warmupMs, durationMs, noServer);
  rows.push({ name, result });
  console.log(`  ${name}: ${result.rps.toFixed(0)}/s (p50 ${result.p50Ms.toFixed(2)} ms, ${result.errors} errors)`);
};
const expectStatus = async (pool: Pool, options: Parameters<Pool["request"]>[0], status: number) => {
  const res = await pool.request(options);
  await res.body.dump();
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}`);
};

// Issuance: a few cores' worth of argon2 in flight is all that helps (libuv's pool has 4 threads).
console.log(`issuance (argon2id m=${ARGON2_COST.memoryCost} KiB, t=${ARGON2_COST.timeCost}, p=${ARGON2_COST.parallelism})`);
{
  const world = await startWorld("pglite", { hasher: argon2Hasher(ARGON2_COST) });
  try {
    const http = client(world.base);
    const email = freshEmail("bench");
    const created = await http.json("POST", "/v1/accounts", { email, password: GOOD_PASSWORD });
    if (created.status !== 200) throw new Error(`sign-up failed: ${created.text}`);
    const pool = new Pool(world.base, { connections: 8 });
    const form = new URLSearchParams({ grant_type: "password", client_id: "flotilla-mobile", username: email, password: GOOD_PASSWORD }).toString();
    await run("password grant via gateway", () => expectStatus(pool, { method: "POST", path: "/oauth2/token", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form }, 200), 4);
    await pool.close();
    const stored = await hash(GOOD_PASSWORD, { algorithm: 2, ...ARGON2_COST });
    await run("argon2id verify alone", async () => {
      if (!(await verify(stored, GOOD_PASSWORD))) throw new Error("verify failed");
    }, 4);
  } finally {
    await world.close();
  }
}

console.log(`verification (c${concurrency})`);
{
  const cached = await startSecured();
  const uncached = await startSecured({ verifier: { cache: false } });
  try {
    const token = await cached.token(["catalog:write"]);
    const tokenB = await uncached.token(["catalog:write"]);
    const body = JSON.stringify(newEvent);
    const post = (base: string, t: string) => {
      const pool = new Pool(base, { connections: concurrency });
      return { pool, call: () => expectStatus(pool, { method: "POST", path: "/v1/catalog/events", headers: { "content-type": "application/json", authorization: `Bearer ${t}` }, body }, 200) };
    };
    const a = post(cached.base, token);
    await run("gateway, token cache", a.call, concurrency);
    const b = post(uncached.base, tokenB);
    await run("gateway, no token cache", b.call, concurrency);
    await Promise.all([a.pool.close(), b.pool.close()]);

    const issuer = cached.issuer;
    const withCache = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks() });
    const withoutCache = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: () => issuer.jwks(), cache: false });
    await run("verifier alone, cached", () => withCache.verify(token), 1);
    await run("verifier alone, uncached (jose ES256)", () => withoutCache.verify(token), 1);
  } finally {
    await cached[Symbol.asyncDispose]();
    await uncached[Symbol.asyncDispose]();
  }
}

const by = (name: string) => rows.find((r) => r.name === name)!.result;
console.log("\n| contender | per s | p50 ms | p99 ms |\n|---|--:|--:|--:|");
for (const { name, result } of rows) console.log(`| ${name} | ${result.rps.toFixed(0)} | ${result.p50Ms.toFixed(3)} | ${result.p99Ms.toFixed(3)} |`);
const ratio = (a: string, b: string) => (by(a).rps / by(b).rps).toFixed(2);
console.log(`\n- token issuance / bare argon2id: ${ratio("password grant via gateway", "argon2id verify alone")}×`);
console.log(`- gateway with token cache / without: ${ratio("gateway, token cache", "gateway, no token cache")}×`);
console.log(`- verifier cached / uncached: ${ratio("verifier alone, cached", "verifier alone, uncached (jose ES256)")}×`);
process.exit(0);
