// Contender (c): Moleculer 0.15 with its NATS transporter, one action.
import "./report-cpu.ts";
import { ServiceBroker } from "moleculer";
import { eventJson } from "../payload.ts";

const namespace = process.env.BENCH_MOLECULER_NAMESPACE ?? "flotilla-bench";
const nats = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const broker = new ServiceBroker({ namespace, nodeID: `server-${process.pid}`, transporter: { type: "NATS", options: { url: nats } }, logger: false });
broker.createService({
  name: "catalog",
  actions: {
    getEvent(ctx) {
      const params = ctx.params as { eventId: string };
      return { event: eventJson(params.eventId) };
    },
  },
});
await broker.start();
process.send?.({ ready: true });
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
