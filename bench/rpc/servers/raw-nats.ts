// Contender: what the NATS transport rides on — a bare nats.js subscriber
// answering fixed protobuf bytes on the reply subject. No protobuf, no routing.
import "./report-cpu.ts";
import { connect } from "@nats-io/transport-node";
import { responseBytes } from "../payload.ts";

const subject = `${process.env.BENCH_NATS_PREFIX ?? "flotilla-bench.rpc"}.raw-${process.pid}`;
const nc = await connect({ servers: process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222" });
nc.subscribe(subject, {
  callback: (error, msg) => {
    if (error === null && msg.reply) nc.publish(msg.reply, responseBytes);
  },
});
await nc.flush();
process.send?.({ url: subject });
process.on("SIGTERM", () => void nc.close().then(() => process.exit(0)));
