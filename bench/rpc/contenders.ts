// Each contender: start its server in a child process, build the client in
// this process, and hand the load generator one `call`.
import { type ChildProcess, fork } from "node:child_process";
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { catalogV1 } from "@flotilla/contracts";
import { createClient, HttpTransport, NatsTransport } from "@flotilla/kit/internal";
import { connect, createInbox } from "@nats-io/transport-node";
import { ServiceBroker } from "moleculer";
import { Agent, type Dispatcher } from "undici";
import { EVENT_ID, requestBytes } from "./payload.ts";

export interface Running {
  call: () => Promise<unknown>;
  /** CPU time of the server process so far, µs. */
  serverCpu: () => Promise<number>;
  stop: () => Promise<void>;
}

export interface Contender {
  name: string;
  describe: string;
  /** Rides on NATS: the table shows the CPU nats-server spends per call. */
  usesNats?: boolean;
  start: (settings: { natsUrl: string; concurrency: number }) => Promise<Running>;
}

// Subjects of our own, so other users of the NATS server do not mix in.
const prefix = `flotilla-bench-${randomBytes(4).toString("hex")}.rpc`;

async function child(script: string, env: Record<string, string> = {}): Promise<{ process: ChildProcess; message: Record<string, unknown> }> {
  const path = fileURLToPath(new URL(`./servers/${script}`, import.meta.url));
  const proc = fork(path, [], { env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const message = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.once("message", (m) => resolve(m as Record<string, unknown>));
    proc.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
  return { process: proc, message };
}

function cpuOf(proc: ChildProcess): () => Promise<number> {
  return () =>
    new Promise((resolve) => {
      proc.once("message", (m) => resolve((m as { cpu: number }).cpu));
      proc.send("cpu");
    });
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

const chassisHttp: Contender = {
  name: "chassis-http",
  describe: "createClient → HttpTransport (undici) → Connect server (Router, protovalidate) → handler",
  async start({ concurrency }) {
    const server = await child("chassis.ts");
    const url = server.message.url as string;
    const transports = new HttpTransport({ connections: concurrency });
    const instances = [{ id: "catalog-bench", service: "catalog", version: "bench", address: url, labels: {}, startedAt: Date.now() }];
    const catalog = createClient(catalogV1.CatalogService, { instances: () => instances, transports });
    return {
      call: () => catalog.getEvent({ eventId: EVENT_ID }),
      serverCpu: cpuOf(server.process),
      async stop() {
        await transports.close();
        await stopChild(server.process);
      },
    };
  },
};

/** POSTs the request bytes and reads the whole answer, with undici's dispatch API (as HttpTransport does). */
function undiciPost(dispatcher: Dispatcher, origin: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    dispatcher.dispatch(
      // No undici header/body timers, as HttpTransport for a call with a deadline.
      { origin, path: "/flotilla.catalog.v1.CatalogService/GetEvent", method: "POST", headers: ["content-type", "application/proto"], body: requestBytes, headersTimeout: 0, bodyTimeout: 0 },
      {
        onRequestStart: () => {},
        onResponseStart: () => {},
        onResponseData: (_c, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
        onResponseError: (_c, error) => reject(error),
      },
    );
  });
}

const chassisNats: Contender = {
  name: "chassis-nats",
  usesNats: true,
  describe: "createClient → NatsTransport (micro request/reply, one mux inbox) → nats-server → startNatsRpcServer (Router, protovalidate) → handler",
  async start({ natsUrl }) {
    const server = await child("chassis-nats.ts", { BENCH_NATS_URL: natsUrl, BENCH_NATS_PREFIX: prefix });
    const transports = await NatsTransport.connect({ servers: natsUrl });
    const instances = [{ id: "catalog-bench", service: "catalog", version: "bench", address: server.message.url as string, labels: {}, startedAt: Date.now() }];
    const catalog = createClient(catalogV1.CatalogService, { instances: () => instances, transports });
    return {
      call: () => catalog.getEvent({ eventId: EVENT_ID }),
      serverCpu: cpuOf(server.process),
      async stop() {
        await transports.close();
        await stopChild(server.process);
      },
    };
  },
};

const rawNats: Contender = {
  name: "raw-nats",
  usesNats: true,
  describe: "nats.js publish with a reply subject on one mux inbox → nats-server → bare subscriber answering fixed bytes",
  async start({ natsUrl }) {
    const server = await child("raw-nats.ts", { BENCH_NATS_URL: natsUrl, BENCH_NATS_PREFIX: prefix });
    const subject = server.message.url as string;
    const nc = await connect({ servers: natsUrl });
    const inbox = `${createInbox()}.`;
    const waiting = new Map<string, (data: Uint8Array) => void>();
    let next = 0;
    nc.subscribe(`${inbox}*`, {
      callback: (error, msg) => {
        const resolve = error === null ? waiting.get(msg.subject) : undefined;
        if (resolve === undefined) return;
        waiting.delete(msg.subject);
        resolve(msg.data);
      },
    });
    await nc.flush();
    return {
      call: () =>
        new Promise<Uint8Array>((resolve) => {
          const reply = inbox + (next++).toString(36);
          waiting.set(reply, resolve);
          nc.publish(subject, requestBytes, { reply });
        }),
      serverCpu: cpuOf(server.process),
      async stop() {
        await nc.close();
        await stopChild(server.process);
      },
    };
  },
};

const raw: Contender = {
  name: "raw-undici",
  describe: "undici Agent dispatch (keep-alive, pipelining 1) → bare node:http server answering fixed bytes",
  async start({ concurrency }) {
    const server = await child("raw.ts");
    const url = server.message.url as string;
    const agent = new Agent({ connections: concurrency, pipelining: 1 });
    return {
      call: () => undiciPost(agent, url),
      serverCpu: cpuOf(server.process),
      async stop() {
        await agent.close();
        await stopChild(server.process);
      },
    };
  },
};

const rawNode: Contender = {
  name: "raw-node",
  describe: "node:http Agent (keep-alive) → the same bare server; the alternative to undici",
  async start({ concurrency }) {
    const server = await child("raw.ts");
    const url = new URL(server.message.url as string);
    const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
    const options = {
      host: url.hostname,
      port: url.port,
      path: "/flotilla.catalog.v1.CatalogService/GetEvent",
      method: "POST",
      agent,
      headers: { "content-type": "application/proto", "content-length": String(requestBytes.byteLength) },
    };
    const call = () =>
      new Promise<Buffer>((resolve, reject) => {
        const req = httpRequest(options, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks)));
        });
        req.on("error", reject);
        req.end(requestBytes);
      });
    return {
      call,
      serverCpu: cpuOf(server.process),
      async stop() {
        agent.destroy();
        await stopChild(server.process);
      },
    };
  },
};

const moleculer: Contender = {
  name: "moleculer",
  usesNats: true,
  describe: "Moleculer 0.15 broker.call → NATS transporter (JSON) → broker with one action",
  async start({ natsUrl }) {
    // A namespace of our own, so other users of the NATS server do not mix in.
    const namespace = `flotilla-bench-${randomBytes(4).toString("hex")}`;
    const server = await child("moleculer.ts", { BENCH_MOLECULER_NAMESPACE: namespace, BENCH_NATS_URL: natsUrl });
    const broker = new ServiceBroker({ namespace, nodeID: `client-${process.pid}`, transporter: { type: "NATS", options: { url: natsUrl } }, logger: false });
    await broker.start();
    await broker.waitForServices("catalog", 10_000);
    return {
      call: () => broker.call("catalog.getEvent", { eventId: EVENT_ID }),
      serverCpu: cpuOf(server.process),
      async stop() {
        await broker.stop();
        await stopChild(server.process);
      },
    };
  },
};

export const contenders: readonly Contender[] = [chassisHttp, raw, chassisNats, rawNats, moleculer, rawNode];
