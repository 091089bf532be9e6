// The gateway's WebSocket route: token checks at the handshake, hand-off to
// an in-process handler (embedded) or a piped instance (distributed).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { after, test } from "node:test";
import { kitErrors, type TokenVerifier, type VerifiedToken } from "@flotilla/kit";
import type { FastifyInstance } from "fastify";
import { WebSocket, WebSocketServer } from "ws";
import { createGateway } from "./gateway.ts";
import { defaultRateLimits, handshakeLimiter } from "./plugins/rate-limit.ts";
import { mountRealtime, type RealtimeOptions, type RealtimeUpstream } from "./websocket.ts";

const verifier: TokenVerifier = {
  async verify(token) {
    if (token === "good-token") return { subject: "alice" } as VerifiedToken;
    if (token === "jwks-down") throw kitErrors.create("KIT_ERR_JWKS_UNAVAILABLE", "keys unavailable");
    throw kitErrors.create("KIT_ERR_TOKEN_INVALID", "bad signature");
  },
};

/** A stand-in for the realtime service: greets with what it was handed, then echoes. */
function fakeService() {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has("bearer") ? "bearer" : false) });
  const sockets = new Set<Duplex>();
  const handler = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(socket);
      ws.send(JSON.stringify({ authorization: request.headers.authorization, ip: request.headers["x-client-ip"], url: request.url }));
      ws.on("message", (d) => ws.send(String(d)));
    });
  return { wss, handler, sockets };
}

const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function gatewayWith(upstream: RealtimeUpstream, admit?: RealtimeOptions["admit"]): Promise<{ app: FastifyInstance; url: string }> {
  const app = createGateway({ services: [], invoke: async () => assert.fail("no calls"), logger: false });
  mountRealtime(app, { upstream, verifier, admit });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  closers.push(() => app.close());
  return { app, url: `${address.replace("http", "ws")}/v1/realtime` };
}

async function serviceServer(): Promise<{ server: Server; address: string; sockets: Set<Duplex> }> {
  const { handler, sockets } = fakeService();
  const server = createServer();
  server.on("upgrade", handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { server, sockets, address: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function open(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}) {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
  const first = new Promise<Record<string, string>>((resolve, reject) => {
    ws.once("message", (d) => resolve(JSON.parse(String(d))));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })));
    });
    ws.once("error", reject);
  });
  return { ws, first };
}

test("embedded: a valid token from header, subprotocol or query reaches the handler as a bearer authorization", async () => {
  const { handler } = fakeService();
  const { url } = await gatewayWith({ kind: "inproc", handler });
  for (const opts of [{ headers: { authorization: "Bearer good-token" } }, { protocols: ["bearer", "good-token"] }]) {
    const { ws, first } = open(url, opts);
    const hello = await first;
    assert.equal(hello.authorization, "Bearer good-token");
    assert.equal(hello.ip, "127.0.0.1");
    ws.close();
  }
  const { ws, first } = open(`${url}?access_token=good-token&x=1`);
  const hello = await first;
  assert.equal(hello.authorization, "Bearer good-token");
  assert.equal(hello.url, "/v1/realtime?x=1", "the token is taken off the URL passed on");
  ws.close();
});

test("handshakes past the realtime class's per-address limit get 429 problem+json with Retry-After, before any token check", async () => {
  const { handler } = fakeService();
  const settings = { ...defaultRateLimits, classes: { ...defaultRateLimits.classes, realtime: { ip: { limit: 2, windowSec: 60 } } } };
  const { url } = await gatewayWith({ kind: "inproc", handler }, handshakeLimiter({ settings: () => settings }));
  for (let i = 0; i < 2; i++) {
    const { ws, first } = open(url, { headers: { authorization: "Bearer good-token" } });
    assert.equal((await first).authorization, "Bearer good-token");
    ws.close();
  }
  // Counted per address whatever the token: a flood of bad ones costs no signature check past the limit.
  for (const headers of [{ authorization: "Bearer good-token" }, { authorization: "Bearer forged" }]) {
    const { first } = open(url, { headers });
    await assert.rejects(first, (e: { status?: number; body?: string; headers?: Record<string, string> }) => {
      assert.equal(e.status, 429);
      assert.equal(e.headers?.["content-type"], "application/problem+json");
      assert.equal(JSON.parse(e.body ?? "{}").code, "GW_ERR_RATE_LIMITED");
      assert.ok(Number(e.headers?.["retry-after"]) >= 1);
      return true;
    });
  }
});

test("handshakes without a valid token are refused with problem+json: 401, or 503 when keys are unavailable", async () => {
  const { handler } = fakeService();
  const { url } = await gatewayWith({ kind: "inproc", handler });
  const cases: Array<[Record<string, string>, string, number, string]> = [
    [{}, url, 401, "GW_ERR_UNAUTHENTICATED"],
    [{ authorization: "Basic abc" }, url, 401, "GW_ERR_UNAUTHENTICATED"],
    [{ authorization: "Bearer forged" }, url, 401, "KIT_ERR_TOKEN_INVALID"],
    [{ authorization: "Bearer jwks-down" }, url, 503, "KIT_ERR_JWKS_UNAVAILABLE"],
    [{ authorization: "Bearer good-token" }, url.replace("/v1/realtime", "/v1/elsewhere"), 404, "GW_ERR_ROUTE_NOT_FOUND"],
  ];
  for (const [headers, target, status, code] of cases) {
    const { first } = open(target, { headers });
    await assert.rejects(first, (e: { status?: number; body?: string; headers?: Record<string, string> }) => {
      assert.equal(e.status, status);
      assert.equal(e.headers?.["content-type"], "application/problem+json");
      assert.equal(JSON.parse(e.body ?? "{}").code, code);
      return true;
    });
  }
});

test("distributed: the socket is piped to a live instance, skipping unreachable ones", async () => {
  const live = await serviceServer();
  const dead = "http://127.0.0.1:1";
  const { url } = await gatewayWith({ kind: "proxy", instances: () => [dead, live.address] });
  for (let i = 0; i < 4; i++) {
    const { ws, first } = open(url, { headers: { authorization: "Bearer good-token" } });
    const hello = await first;
    assert.equal(hello.authorization, "Bearer good-token");
    ws.send("ping-through");
    const echoed = await new Promise((r) => ws.once("message", (d) => r(String(d))));
    assert.equal(echoed, "ping-through");
    ws.close();
  }
});

test("distributed: no reachable instance is 503; an instance that dies closes the client's socket", async () => {
  const none = await gatewayWith({ kind: "proxy", instances: () => ["http://127.0.0.1:1"] });
  await assert.rejects(open(none.url, { headers: { authorization: "Bearer good-token" } }).first, (e: { status?: number }) => e.status === 503);

  const svc = await serviceServer();
  const { url } = await gatewayWith({ kind: "proxy", instances: () => [svc.address] });
  const { ws, first } = open(url, { headers: { authorization: "Bearer good-token" } });
  await first;
  const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
  // As kill -9 would: the instance's end of the TCP connection just goes away.
  for (const s of svc.sockets) s.destroy();
  assert.equal(await closed, 1006);
});
