import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { outbound, outboundOf, sendOutbound } from "./outbound.ts";

test("a prepared frame is one unmasked text frame with the 7-, 16- or 64-bit length", () => {
  for (const [size, head] of [
    [125, 2],
    [126, 4],
    [65_535, 4],
    [65_536, 10],
  ] as const) {
    const json = Buffer.alloc(size, 0x61);
    const out = outbound(json);
    assert.equal(out.framed.length, head + size);
    assert.equal(out.framed[0], 0x81, "FIN + text");
    assert.equal(out.framed[1]! & 0x80, 0, "no mask");
    const length = head === 2 ? out.framed[1] : head === 4 ? out.framed.readUInt16BE(2) : Number(out.framed.readBigUInt64BE(2));
    assert.equal(length, size);
    assert.deepEqual(Buffer.from(out.data), json);
  }
});

test("the same prepared frame reaches every socket as text, whichever way it is written", async () => {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const serverSides: WebSocket[] = [];
  wss.on("connection", (ws) => serverSides.push(ws));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
  try {
    while (serverSides.length < 2) await new Promise((r) => setTimeout(r, 5));
    const received = clients.map(
      (ws) =>
        new Promise<Array<[string, boolean]>>((resolve) => {
          const frames: Array<[string, boolean]> = [];
          ws.on("message", (data, isBinary) => {
            frames.push([String(data), isBinary]);
            if (frames.length === 3) resolve(frames);
          });
        }),
    );
    const smallFrame = { type: "presence", user_id: "ü", online: true };
    const largeFrame = { type: "message", text: "x".repeat(70_000) };
    const small = outboundOf(smallFrame);
    const large = outboundOf(largeFrame);
    for (const ws of serverSides) {
      sendOutbound(ws, small);
      sendOutbound(ws, large);
    }
    // Without ws's internals (another ws version): ws.send frames the same bytes.
    const [first] = serverSides;
    sendOutbound({ send: (data: Uint8Array, options: object) => first!.send(data, options) } as unknown as WebSocket, small);
    sendOutbound(serverSides[1]!, small);
    for (const frames of await Promise.all(received)) {
      assert.deepEqual(frames, [
        [JSON.stringify(smallFrame), false],
        [JSON.stringify(largeFrame), false],
        [JSON.stringify(smallFrame), false],
      ]);
    }
  } finally {
    for (const ws of clients) ws.terminate();
    wss.close();
    server.close();
  }
});
