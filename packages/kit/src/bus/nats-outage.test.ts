// Runs its own nats-server (never the shared one) to take it away and bring it back.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { eventId } from "./event-id.ts";
import { NatsBus } from "./nats.ts";
import type { CloudEvent } from "./types.ts";

const storeDir = mkdtempSync(join(tmpdir(), "flotilla-bus-outage-"));
let port = 0;
let server: ChildProcess | undefined;

async function sparePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function accepting(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

async function startServer(): Promise<void> {
  const child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], { stdio: "ignore" });
  server = child;
  const deadline = Date.now() + 10_000;
  while (!(await accepting())) {
    if (Date.now() > deadline) throw new Error(`nats-server did not start on ${port}`);
    await settle(50);
  }
  // Another test may have taken the spare port between the probe and this spawn: then something else
  // answers on it and our server exits, and stopping "our" server would stop nothing.
  await settle(300);
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nats-server exited: port ${port} is taken by another process`);
}

async function killServer(): Promise<void> {
  const child = server;
  server = undefined;
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  // A spare port can be taken by a parallel test before our server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await sparePort();
    try {
      await startServer();
      return;
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
});

after(async () => {
  await killServer();
  rmSync(storeDir, { recursive: true, force: true });
});

const event = (n: number): CloudEvent => ({
  specversion: "1.0",
  id: eventId(),
  source: "/flotilla/test",
  type: "outage.probe.v1",
  subject: String(n),
  time: new Date().toISOString(),
  datacontenttype: "application/protobuf",
  dataschema: "flotilla.test.v1.Probe",
  data: randomBytes(8),
});

const isUnavailable = (e: unknown): boolean => e instanceof FlotillaError && e.code === "KIT_ERR_BUS_UNAVAILABLE" && e.retryable;

/**
 * A TCP proxy in front of the server that can stop passing the server's bytes on while keeping the
 * connection open: a server that stops answering, exactly, whatever the machine's load.
 */
async function freezableProxy(target: number) {
  const upstreams = new Set<Socket>();
  let frozen = false;
  const proxy = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(target, "127.0.0.1");
    upstreams.add(upstream);
    client.pipe(upstream);
    upstream.on("data", (chunk) => {
      if (!frozen) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      upstreams.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const address = proxy.address() as { port: number };
  return {
    port: address.port,
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const u of upstreams) u.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

test("a server that stops answering makes publish fail with KIT_ERR_BUS_UNAVAILABLE within the publish timeout", async () => {
  const proxy = await freezableProxy(port);
  const bus = await NatsBus.connect({ servers: `nats://127.0.0.1:${proxy.port}` }, { publishTimeoutMs: 800, onError: () => {} });
  try {
    await bus.publish([event(0)]);
    proxy.freeze(); // the socket stays open, nothing comes back: only the timeout can end the wait
    const started = Date.now();
    await assert.rejects(bus.publish([event(1), event(2), event(3)]), isUnavailable);
    const took = Date.now() - started;
    // Bounded by the publish timeout; the upper bound leaves room for a loaded CI machine.
    assert.ok(took >= 700 && took < 10_000, `rejected after ${took} ms`);
  } finally {
    await bus.close().catch(() => {});
    await proxy.close();
  }
});

test("with the server down publish fails fast and typed, and once it is back the consumer carries on", async (t) => {
  const errors: unknown[] = [];
  const bus = await NatsBus.connect({ servers: `nats://127.0.0.1:${port}` }, { publishTimeoutMs: 1000, consumeRetryMs: 200, onError: (e) => errors.push(e) });
  t.after(() => bus.close());
  const seen: string[] = [];
  await bus.subscribe({ consumer: "outage-consumer", type: "outage.probe.v1", backoffMs: [50] }, async (d) => {
    seen.push(d.event.subject ?? "");
  });
  await bus.publish([event(1)]);
  await waitUntil(() => seen.includes("1"), "event 1 before the outage");

  await killServer();
  const started = Date.now();
  await assert.rejects(bus.publish([event(2)]), isUnavailable);
  assert.ok(Date.now() - started < 10_000, `rejected after ${Date.now() - started} ms`);

  await startServer();
  // The client reconnects on its own; the relay would retry like this.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await bus.publish([event(3)]);
      break;
    } catch (error) {
      assert.ok(isUnavailable(error), `unexpected ${String(error)}`);
      if (Date.now() > deadline) throw error;
      await settle(200);
    }
  }
  await waitUntil(() => seen.includes("3"), "event 3 after the restart", 15_000);
  assert.ok(seen.indexOf("1") < seen.indexOf("3"));
});

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(20);
  }
}
