// A process for workers.test.ts: runWorkers around a plain HTTP server that
// answers with its pid (`/exit` ends the worker that gets it). Tells its parent
// the port once every worker listens.
import cluster from "node:cluster";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { runWorkers } from "../../src/workers.ts";

let port: number | undefined;
cluster.on("listening", (_worker, address) => {
  port ??= address.port;
});
try {
  await runWorkers({ workers: Number(process.env.WORKERS ?? "2"), restartDelayMs: 50 }, async () => {
    if (process.env.FAIL_START === "1") throw new Error("cannot start");
    const server = createServer((request, response) => {
      if (request.url === "/exit") process.exit(3);
      response.end(String(process.pid));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    process.on("SIGTERM", () => server.close(() => process.exit(0)));
    if (cluster.isPrimary) process.send?.({ port: (server.address() as AddressInfo).port });
  });
} catch (error) {
  process.send?.({ failed: (error as Error).message });
  process.exit(70);
}
if (cluster.isPrimary && port !== undefined) process.send?.({ port });
