// The engine under the bus: JetStream publish with 256 acks outstanding and a
// durable pull consumer acking each message, no outbox, no inbox, no database.
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { processCpuMs } from "../support/engines.ts";
import { benchEvent, wireSize } from "./payload.ts";
import type { Run } from "./setup.ts";
import { type Latency, now, settle, summarise, Window } from "./stats.ts";

export interface FlowResult {
  /** Events (messages) committed or published per second in the window. */
  producedPerSec: number;
  /** Events (messages) handled by the consumer per second in the window. */
  deliveredPerSec: number;
  latency: Latency;
  /** Window items not yet handled when the drain timeout passed. */
  undelivered: number;
}

export interface RawJetStreamResult extends FlowResult {
  /** CPU time of this process (publisher and consumer) per message delivered in the window. */
  clientCpuUsPerEvent: number;
  /** CPU time of nats-server per message delivered, when the run started its own (NaN otherwise). */
  natsCpuUsPerEvent: number;
}

export interface RawJetStreamOptions {
  warmupMs: number;
  durationMs: number;
  inFlight: number;
  drainMs: number;
}

export async function rawJetStream(run: Run, options: RawJetStreamOptions): Promise<RawJetStreamResult> {
  const stream = run.stream("raw");
  const subject = `${run.subjectPrefix("raw")}.msg`;
  const size = wireSize(benchEvent("writer-0-0"));
  // Two connections, as a publisher and a consumer in two processes would have.
  const pub = await connect({ servers: run.natsUrl });
  const sub = await connect({ servers: run.natsUrl });
  try {
    const jsm = await jetstreamManager(pub);
    await jsm.streams.add({ name: stream, subjects: [`${run.subjectPrefix("raw")}.>`] });
    await jsm.consumers.add(stream, { durable_name: "raw", ack_policy: AckPolicy.Explicit, max_ack_pending: 1024 });
    const js = jetstream(pub);
    const window = new Window(options.warmupMs, options.durationMs);
    let published = 0;
    let delivered = 0;
    let pendingInWindow = 0;
    const latencies: number[] = [];
    const cpu = { client: [0, 0], nats: [0, 0], delivered: [0, 0] };
    const mark = (i: 0 | 1) => {
      const { user, system } = process.cpuUsage();
      cpu.client[i] = (user + system) / 1000;
      cpu.nats[i] = run.natsPid === undefined ? Number.NaN : processCpuMs(run.natsPid);
      cpu.delivered[i] = delivered;
    };
    const marks = [setTimeout(() => mark(0), window.start - now()), setTimeout(() => mark(1), window.end - now())];

    const consumer = await jetstream(sub).consumers.get(stream, "raw");
    const messages = await consumer.consume({ max_messages: 512 });
    const consuming = (async () => {
      for await (const m of messages) {
        const received = now();
        const sent = new DataView(m.data.buffer, m.data.byteOffset, 8).getFloat64(0);
        m.ack();
        if (window.contains(received)) delivered++;
        if (window.contains(sent)) {
          latencies.push(received - sent);
          pendingInWindow--;
        }
      }
    })();

    const publisher = async () => {
      while (!window.over()) {
        const body = new Uint8Array(size);
        const sent = now();
        new DataView(body.buffer).setFloat64(0, sent);
        if (window.contains(sent)) pendingInWindow++;
        await js.publish(subject, body);
        if (window.contains(now())) published++;
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, publisher));
    await settle(() => pendingInWindow <= 0, options.drainMs);
    messages.stop();
    await consuming;
    for (const timer of marks) clearTimeout(timer);
    const perDelivered = (what: "client" | "nats") => (((cpu[what][1] ?? 0) - (cpu[what][0] ?? 0)) * 1000) / ((cpu.delivered[1] ?? 0) - (cpu.delivered[0] ?? 0));
    return {
      clientCpuUsPerEvent: perDelivered("client"),
      natsCpuUsPerEvent: perDelivered("nats"),
      producedPerSec: published / window.seconds,
      deliveredPerSec: delivered / window.seconds,
      latency: summarise(latencies),
      undelivered: Math.max(0, pendingInWindow),
    };
  } finally {
    await Promise.all([pub.close(), sub.close()]);
  }
}
