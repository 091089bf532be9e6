import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { catalogV1 } from "@flotilla/contracts";
import type { FastifyInstance } from "fastify";
import { fakeCatalog } from "../test/support/fake-catalog.ts";
import { createGateway } from "./gateway.ts";

let app: FastifyInstance;
let port: number;

before(async () => {
  app = createGateway({ services: [catalogV1.CatalogService], invoke: fakeCatalog().invoke, logger: false });
  await app.listen({ port: 0, host: "127.0.0.1" });
  port = (app.server.address() as { port: number }).port;
});
after(() => app.close());

/** Writes raw bytes and reads until the server closes the connection. */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => (received += chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
    socket.write(bytes);
  });
}

function problemIn(response: string): { status: number; contentType: string; body: Record<string, unknown> } {
  const [head, body = ""] = response.split("\r\n\r\n");
  const status = Number(head?.split(" ")[1]);
  const contentType = /content-type: ([^\r\n]+)/i.exec(head ?? "")?.[1] ?? "";
  return { status, contentType, body: JSON.parse(body) as Record<string, unknown> };
}

test("a request that is not HTTP gets a 400 problem, and the connection is closed", async () => {
  const answer = problemIn(await raw("HELLO THERE\r\n\r\n"));
  assert.equal(answer.status, 400);
  assert.equal(answer.contentType, "application/problem+json");
  assert.equal(answer.body.code, "GW_ERR_BAD_REQUEST");
});

test("oversized headers get a 431 problem", async () => {
  const answer = problemIn(await raw(`GET /v1/catalog/events HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`));
  assert.equal(answer.status, 431);
  assert.equal(answer.body.code, "GW_ERR_HEADERS_TOO_LARGE");
});

test("the gateway still serves afterwards", async () => {
  const res = await fetch(`http://127.0.0.1:${port}/v1/catalog/events`);
  assert.equal(res.status, 200);
});
