// URLs of the real engines the integration tests use. A missing engine fails
// the test that needs it: nothing is skipped.
import { createServer } from "node:net";

export const natsUrl = process.env.FLOTILLA_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
export const postgresUrl = process.env.FLOTILLA_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A registry bucket, JetStream stream and subject prefix of the caller's own,
 * as `flotilla up` settings, and their removal afterwards: durable consumers
 * are named by service (`notifications.message-sent`), so two runs on the
 * shared stream would take each other's events.
 */
export function scratchNats(tag: string): { bucket: string; env: NodeJS.ProcessEnv; remove(): Promise<void> } {
  const name = uniqueName(`${tag}_`);
  const bucket = `${name}_registry`;
  return {
    bucket,
    env: { FLOTILLA_REGISTRY_BUCKET: bucket, FLOTILLA_BUS_STREAM: name, FLOTILLA_BUS_SUBJECT_PREFIX: name },
    async remove() {
      const { connect } = await import("@nats-io/transport-node");
      const { jetstreamManager } = await import("@nats-io/jetstream");
      const { Kvm } = await import("@nats-io/kv");
      const nc = await connect({ servers: natsUrl });
      try {
        await new Kvm(nc)
          .open(bucket)
          .then((kv) => kv.destroy())
          .catch(() => false);
        await (await jetstreamManager(nc)).streams.delete(name).catch(() => false);
      } finally {
        await nc.close();
      }
    },
  };
}
