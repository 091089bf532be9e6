// The transport conformance suite against every network transport.
import { randomBytes } from "node:crypto";
import { after } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { transportConformance } from "./conformance.ts";
import { HttpTransport } from "./http-client.ts";
import { startRpcServer } from "./http-server.ts";
import { NatsTransport } from "./nats-rpc-client.ts";
import { startNatsRpcServer } from "./nats-rpc-server.ts";
import { Router } from "./router.ts";

const natsUrl = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

transportConformance("http (Connect over HTTP/1.1)", {
  transport: async () => new HttpTransport(),
  async serve(router) {
    const server = await startRpcServer({ router });
    return {
      id: "catalog-1",
      address: server.url,
      get inFlight() {
        return server.rpc.inFlight;
      },
      drain: (timeoutMs) => server.drain(timeoutMs),
      async close() {
        server.server.closeAllConnections();
        await server.close(0);
      },
      async kill() {
        server.server.closeAllConnections();
        server.server.close();
      },
    };
  },
  async deadAddress() {
    const closed = await startRpcServer({ router: new Router() });
    await closed.close();
    return closed.url;
  },
  cancelReachesHandler: true,
});

// Each test run uses a prefix of its own, so parallel runs on one NATS server do not meet.
const prefix = `flotilla-test-${randomBytes(4).toString("hex")}.rpc`;
const connections: NatsConnection[] = [];
after(async () => {
  await Promise.all(connections.filter((nc) => !nc.isClosed()).map((nc) => nc.close()));
});

transportConformance("nats (micro protocol, Connect bodies)", {
  transport: () => NatsTransport.connect({ servers: natsUrl }),
  async serve(router) {
    const connection = await connect({ servers: natsUrl });
    connections.push(connection);
    const id = `catalog-${randomBytes(3).toString("hex")}`;
    const server = await startNatsRpcServer({ router, connection, name: "catalog", id, version: "1.0.0", prefix });
    return {
      id,
      address: server.address,
      get inFlight() {
        return server.inFlight;
      },
      drain: (timeoutMs) => server.drain(timeoutMs),
      async close() {
        if (!connection.isClosed()) await server.close(0);
      },
      // Closing the connection drops its subscriptions at once, as the death of the process would.
      kill: () => connection.close(),
    };
  },
  deadAddress: async () => `nats:${prefix}.nobody-here`,
  cancelReachesHandler: false,
});
