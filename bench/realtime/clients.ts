// A client child of the realtime benchmark: opens and holds many WebSocket
// connections, and stamps the arrival of every tagged frame, driven over IPC
// by run.ts:
//
//   {id, op: "open", url, count, tokens?, hello, concurrency}  open `count` sockets (hub: bearer token,
//                                                              then hello and wait for ready)
//   {id, op: "count"}    frames received so far
//   {id, op: "collect"}  arrival times (wall clock) per tag
//   {id, op: "close"}    closes every socket (the server's warm-up)
//   {id, op: "exit"}
//
// A frame's tag is the broadcast number: the first 4 bytes of the plain ws
// payload, the 8 digits that start the hub message's text.
import { WebSocket } from "ws";
import { wallClock } from "./stats.ts";

export type ClientRequest = { id: number } & (
  | { op: "open"; url: string; count: number; tokens?: string[]; hello: boolean; concurrency: number }
  | { op: "count" }
  | { op: "collect" }
  | { op: "close" }
  | { op: "exit" }
);

export interface OpenReply {
  ok: number;
  failed: number;
  ms: number;
  firstError?: string;
}

const sockets: WebSocket[] = [];
const arrivals = new Map<number, number[]>();
let received = 0;
const TEXT = Buffer.from('"text":"');

function record(data: Buffer, hub: boolean): void {
  // The time first: nothing this process does afterwards counts.
  const at = wallClock();
  let tag: number;
  if (hub) {
    if (data[9] !== 0x6d) return; // {"type":"message"...: other frames (presence, ready) are not timed
    const i = data.indexOf(TEXT);
    if (i < 0) return;
    tag = Number(data.toString("latin1", i + TEXT.length, i + TEXT.length + 8));
  } else {
    tag = data.readUInt32BE(0);
  }
  received++;
  let list = arrivals.get(tag);
  if (!list) {
    list = [];
    arrivals.set(tag, list);
  }
  list.push(at);
}

function openOne(url: string, token: string | undefined, hello: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, headers: token ? { authorization: `Bearer ${token}` } : {} });
    let ready = !hello;
    ws.on("message", (data: Buffer) => {
      if (ready) return record(data, hello);
      if (data.includes('"type":"ready"')) {
        ready = true;
        resolve();
      }
    });
    ws.once("open", () => {
      sockets.push(ws);
      if (hello) ws.send('{"type":"hello","resume":{}}');
      else resolve();
    });
    ws.once("unexpected-response", (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
    ws.once("error", reject);
    ws.once("close", (code) => (ready ? undefined : reject(new Error(`closed before ready: ${code}`))));
  });
}

async function open(req: Extract<ClientRequest, { op: "open" }>): Promise<OpenReply> {
  const started = wallClock();
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < req.count) {
      const i = next++;
      try {
        await openOne(req.url, req.tokens?.[i], req.hello);
        ok++;
      } catch (error) {
        failed++;
        firstError ??= String((error as Error).message ?? error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.count) }, worker));
  return { ok, failed, ms: wallClock() - started, ...(firstError ? { firstError } : {}) };
}

process.on("message", (message) => {
  const req = message as ClientRequest;
  const reply = async (): Promise<unknown> => {
    switch (req.op) {
      case "open":
        return open(req);
      case "count":
        return { received };
      case "collect":
        return { arrivals: [...arrivals] };
      case "close":
        for (const ws of sockets.splice(0)) ws.close();
        return {};
      case "exit":
        for (const ws of sockets) ws.terminate();
        setImmediate(() => process.exit(0));
        return {};
    }
  };
  reply().then(
    (result) => process.send?.({ id: req.id, result }),
    (error: unknown) => process.send?.({ id: req.id, error: String(error) }),
  );
});
process.send?.({ ready: true });
