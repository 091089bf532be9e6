// Contender: moleculer-web (Moleculer's API gateway) calling the catalog
// action over Moleculer's NATS transporter; the action runs in another
// process (bench/rpc/servers/moleculer.ts), as a service would.
import "../../rpc/servers/report-cpu.ts";
import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";

const namespace = process.env.BENCH_MOLECULER_NAMESPACE ?? "flotilla-bench";
const nats = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const port = Number(process.env.BENCH_PORT);
const broker = new ServiceBroker({ namespace, nodeID: `web-${process.pid}`, transporter: { type: "NATS", options: { url: nats } }, logger: false });
broker.createService({
  name: "api",
  mixins: [ApiGateway],
  settings: {
    port,
    ip: "127.0.0.1",
    logRequest: null,
    logResponse: null,
    routes: [{ path: "/v1/catalog", mappingPolicy: "restrict", aliases: { "GET events/:eventId": "catalog.getEvent" } }],
  },
});
await broker.start();
await broker.waitForServices(["catalog"], 10_000);
process.send?.({ url: `http://127.0.0.1:${port}` });
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
