// Contender: the Flotilla chassis served over NATS (micro protocol) — the same
// Router as servers/chassis.ts, on startNatsRpcServer.
import "./report-cpu.ts";
import { connect } from "@nats-io/transport-node";
import { startNatsRpcServer } from "@flotilla/kit/internal";
import { benchRouter } from "./bench-router.ts";

const connection = await connect({ servers: process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222" });
const server = await startNatsRpcServer({ router: benchRouter(), connection, name: "catalog", id: `catalog-bench-${process.pid}`, version: "0.0.0", prefix: process.env.BENCH_NATS_PREFIX ?? "flotilla-bench.rpc" });
process.send?.({ url: server.address });
process.on("SIGTERM", () => void server.close(500).then(() => connection.close()).then(() => process.exit(0)));
