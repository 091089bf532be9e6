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
