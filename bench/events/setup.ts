// Names unique to one run on the shared PostgreSQL and NATS servers, and
// their removal at the end (also after a failure or Ctrl-C).
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";

export interface Servers {
  postgresUrl: string;
  natsUrl: string;
  /** The nats-server process, when the run started its own: its CPU is then shown. */
  natsPid?: number;
}

export interface Run extends Servers {
  /** Prefix of every database and role of this run. */
  databasePrefix: string;
  /** A stream name of this run, e.g. stream("e2e_b10"). */
  stream(tag: string): string;
  /** A subject prefix of this run. */
  subjectPrefix(tag: string): string;
  /** A child process of this run, ended before cleanup so that it creates nothing after it. */
  adopt(child: ChildProcess): void;
  /** Ends the run's child processes, then removes every database, role and stream this run made. */
  cleanup(): Promise<void>;
}

export function newRun(servers: Servers): Run {
  const id = randomBytes(3).toString("hex");
  const databasePrefix = `bench_ev_${id}_`;
  const streamPrefix = `BENCH_EV_${id.toUpperCase()}_`;
  const children = new Set<ChildProcess>();
  return {
    ...servers,
    databasePrefix,
    stream: (tag) => `${streamPrefix}${tag.toUpperCase()}`,
    subjectPrefix: (tag) => `bench_ev_${id}_${tag}`,
    adopt: (child) => {
      children.add(child);
      child.once("exit", () => children.delete(child));
    },
    cleanup: async () => {
      await Promise.all(
        [...children].map(async (child) => {
          const exited = once(child, "exit");
          child.kill();
          await exited;
        }),
      );
      const results = await Promise.allSettled([dropDatabases(servers.postgresUrl, databasePrefix), deleteStreams(servers.natsUrl, streamPrefix)]);
      for (const r of results) if (r.status === "rejected") console.error(`cleanup failed: ${String(r.reason)}`);
    },
  };
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function dropDatabases(url: string, prefix: string): Promise<void> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const pattern = `${prefix.replaceAll("_", "\\_")}%`;
    const dbs = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE ${pattern}`;
    for (const { datname } of dbs) await admin.unsafe(`DROP DATABASE ${quote(datname)} WITH (FORCE)`);
    const roles = await admin<{ rolname: string }[]>`SELECT rolname FROM pg_roles WHERE rolname LIKE ${pattern}`;
    for (const { rolname } of roles) await admin.unsafe(`DROP ROLE ${quote(rolname)}`);
  } finally {
    await admin.end();
  }
}

async function deleteStreams(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 2000 });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (name.startsWith(prefix)) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}
