// Property-based fuzzing of every public input of the gateway, with auth,
// app keys, app versions and CORS on: malformed paths, query strings, headers
// and bodies must get a 4xx (or a success), never a 5xx, never a crash.
//
// Bounded and seeded for `npm test`; `FLOTILLA_FUZZ_RUNS=20000` (bench/fuzz)
// runs it large, `FLOTILLA_FUZZ_SEED` replays a reported failure.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { newEvent, type SecuredGateway, sha256, startSecured } from "./support/secured-gateway.ts";

const RUNS = Number(process.env.FLOTILLA_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FLOTILLA_FUZZ_SEED ?? 20261125);

let gw: SecuredGateway;
let validToken: string;
let weakToken: string;

before(async () => {
  gw = await startSecured({
    bodyLimit: 64 * 1024,
    config: {
      appKeys: [
        { id: "ios", platform: "ios", sha256: sha256("ios-key"), revoked: false },
        { id: "gone", platform: "android", sha256: sha256("revoked-key"), revoked: true },
      ],
      appVersions: { platforms: { ios: { minimum: "2.0.0", storeUrl: "https://apps.example/ios" } } },
      cors: { origins: ["https://app.example.com"], credentials: false, maxAgeSec: 60 },
      network: { trustedProxies: ["127.0.0.1"] },
    },
  });
  validToken = await gw.token(["catalog:write"]);
  weakToken = await gw.token([]);
});
after(() => gw.app.close());

// Header values Node's client will send: tab, printable ASCII and latin-1.
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.constantFrom("\t", "é", "ÿ", "%", "\\", '"', ",", ".", "="),
);
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });
// Path and query characters the client lets through unescaped, plus escapes (valid and broken).
const urlPiece = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~!$&'()*+,;=:@/?#[]"), maxLength: 12 }),
  fc.constantFrom("%", "%2", "%zz", "%00", "%2F", "%C3%A9", "%FF%FE", "..", "%2e%2e", "{event_id}", "\u00e9".normalize()),
  fc.string({ maxLength: 8 }).map((s) => encodeURIComponent(s)),
);
const segment = fc.array(urlPiece, { maxLength: 4 }).map((parts) => parts.join(""));

const knownPath = fc.oneof(
  fc.constant("/v1/catalog/events"),
  segment.map((id) => `/v1/catalog/events/${id}`),
  segment.map((city) => `/v1/catalog/cities/${city}/calendar`),
);
const anyPath = fc.oneof(
  knownPath,
  fc.array(segment, { maxLength: 6 }).map((segments) => `/${segments.join("/")}`),
  fc.constantFrom("/", "//v1//catalog", "/v1/catalog/events/", "/v1/catalog/events/%", `/v1/catalog/events/${"a".repeat(5000)}`, "/livez", "/openapi.json"),
);
const query = fc.oneof(
  fc.constant(""),
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom("page_size", "pageSize", "page_token", "city", "from", "to", "category", "a.b", "$typeName", "__proto__"), segment), segment), { maxLength: 5 })
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`),
  fc.constantFrom("?page_size=-1", "?page_size=99999999999", "?page_size=1.5", "?city=%", "?from=not-a-date", "?category=EVENT_CATEGORY_NOPE", "?a&a&a=", "?=x"),
);

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
// Well-formed JWS whose header fields are hostile: they reach the verifier's key lookup and error texts.
const forgedJws = fc
  .tuple(fc.constantFrom("ES256", "none", "HS256", "RS256", "EdDSA", ""), fc.string({ unit: "binary", maxLength: 24 }), fc.constantFrom("at+jwt", "JWT", ""), fc.jsonValue())
  .map(([alg, kid, typ, payload]) => `Bearer ${b64({ alg, kid, typ })}.${b64(payload)}.c2lnbmF0dXJl`);
const authorization = fc.oneof(
  fc.constant(undefined),
  forgedJws,
  fc.constant("valid"),
  fc.constant("weak"),
  headerText(80),
  headerText(200).map((t) => `Bearer ${t}`),
  fc.tuple(fc.base64String({ maxLength: 60 }), fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 90 })).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`.replaceAll("+", "-").replaceAll("/", "_")),
);
const headers = fc.record(
  {
    authorization,
    "x-api-key": fc.oneof(fc.constantFrom("ios-key", "revoked-key"), headerText(40)),
    "x-app-platform": fc.oneof(fc.constantFrom("ios", "IOS", "android", ""), headerText(20)),
    "x-app-version": fc.oneof(fc.constantFrom("1.0", "2.0.0", "3.1.4-beta", ""), headerText(20)),
    "content-type": fc.oneof(fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"), headerText(30)),
    "x-forwarded-for": fc.oneof(fc.constantFrom("203.0.113.9", "1.1.1.1, 2.2.2.2", "::1", "garbage, 10.0.0.1"), headerText(40)),
    origin: fc.oneof(fc.constantFrom("https://app.example.com", "null", "https://evil.example"), headerText(30)),
    "access-control-request-method": fc.constantFrom("GET", "POST", "DELETE", "x"),
    "x-request-id": headerText(140),
    traceparent: headerText(60),
    "idempotency-key": headerText(40),
    "if-none-match": headerText(40),
    "accept-encoding": fc.constantFrom("gzip", "br", "deflate", "identity", "*", "gzip;q=0, br;q=1", "x"),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.constant(JSON.stringify(newEvent)),
  fc.record({ ...Object.fromEntries(Object.keys(newEvent).map((k) => [k, fc.jsonValue()])) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
  fc.constantFrom("{", "[]", "null", '{"title":', '{"__proto__":{"x":1}}', '{"capacity":1e999}', "\u0000"),
);
const method = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD");

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string | undefined;
}

function send(req: Sent): Promise<{ status: number; contentType: string; text: string }> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers[k] = k === "authorization" && v === "valid" ? `Bearer ${validToken}` : k === "authorization" && v === "weak" ? `Bearer ${weakToken}` : v;
  }
  // Node's client sends a DELETE/OPTIONS body unframed unless told its length.
  const payload = req.body === undefined ? undefined : Buffer.from(req.body, "latin1");
  if (payload !== undefined) headers["content-length"] = String(payload.length);
  return new Promise((resolve, reject) => {
    const client = httpRequest(`${gw.base}${req.path}`, { method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    client.on("error", reject);
    client.end(payload);
  });
}

async function check(req: Sent): Promise<void> {
  let res: Awaited<ReturnType<typeof send>>;
  try {
    res = await send(req);
  } catch (error) {
    // Node's own client refuses some inputs before sending (e.g. a path it cannot encode): not the gateway's doing.
    if ((error as { code?: string }).code === "ERR_UNESCAPED_CHARACTERS" || (error as { code?: string }).code === "ERR_INVALID_CHAR") return;
    throw error;
  }
  assert.ok(res.status < 500, `${req.method} ${req.path} → ${res.status} ${res.text}`);
  if (res.status >= 400 && req.method !== "HEAD") {
    assert.match(res.contentType, /^application\/problem\+json/, `${req.method} ${req.path} → ${res.status} ${res.text}`);
    const problem = JSON.parse(res.text) as { status: number; code: string };
    assert.equal(problem.status, res.status);
    assert.match(problem.code, /^[A-Z]+_ERR_[A-Z_]+$/);
  }
}

const options = { numRuns: RUNS, seed: SEED, endOnFailure: true } as const;

test(`fuzz: the contract's routes with malformed params, headers and bodies (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(method, knownPath, query, headers, body, async (m, path, q, h, b) => check({ method: m, path: `${path}${q}`, headers: h, body: m === "GET" || m === "HEAD" ? undefined : b })),
    options,
  );
});

test(`fuzz: arbitrary paths and query strings (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(method, anyPath, query, headers, async (m, path, q, h) => check({ method: m, path: `${path}${q}`, headers: h, body: undefined })),
    options,
  );
});

test("after the fuzzing the gateway is alive and still serves", async () => {
  const live = await send({ method: "GET", path: "/livez", headers: {}, body: undefined });
  assert.equal(live.status, 200);
  const list = await send({ method: "GET", path: "/v1/catalog/events", headers: {}, body: undefined });
  assert.equal(list.status, 200);
  const created = await send({ method: "POST", path: "/v1/catalog/events", headers: { authorization: "valid", "content-type": "application/json" }, body: JSON.stringify(newEvent) });
  assert.equal(created.status, 200, created.text);
});
