// What one run of the realtime benchmark owns on this machine: a nats-server
// on a spare port (or a subject prefix on a given NATS), a database prefix on
// PostgreSQL (dropped at the end, also after a failure or Ctrl-C), and the
// access tokens of its users.
import { randomBytes } from "node:crypto";
import { createTestIssuer, dropDatabasesWithPrefix } from "@flotilla/kit/testing";
import { startOwnNats } from "../support/engines.ts";

export interface OwnNats {
  url: string;
  pid: number | undefined;
  stop(): void;
}

/** `own`: a nats-server (PATH, or BENCH_NATS_SERVER) on a spare loopback port; else the URL given. */
export async function natsFor(setting: string): Promise<OwnNats> {
  if (setting !== "own") {
    if (!/^nats:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(setting)) throw new Error(`--nats must be "own" or a nats:// URL on 127.0.0.1, got ${setting}`);
    return { url: setting, pid: undefined, stop() {} };
  }
  const own = await startOwnNats();
  return { url: own.url, pid: own.pid, stop: () => void own.stop() };
}

export interface RunNames {
  /** Prefix of the run's databases and roles on PostgreSQL. */
  databasePrefix: string;
  /** NATS subject prefix of the run's broadcast. */
  subjectPrefix: string;
}

export function runNames(): RunNames {
  const id = randomBytes(3).toString("hex");
  return { databasePrefix: `bench_rt_${id}_`, subjectPrefix: `bench_rt_${id}` };
}

export async function dropRunDatabases(postgresUrl: string, names: RunNames): Promise<void> {
  await dropDatabasesWithPrefix(names.databasePrefix, postgresUrl);
}

/**
 * The id of the run's i-th user: zero-padded, so that ids sort as their
 * numbers do and the hub's member order (the primary key's) is the users' order.
 */
export const userId = (i: number): string => `u${String(i).padStart(5, "0")}`;

export interface Tokens {
  issuer: string;
  jwks: unknown;
  /** Access tokens of users userId(0), userId(1), …; `sender` sends the fan-out messages. */
  users: string[];
  sender: string;
}

/** Mints the run's access tokens with the chassis's test issuer (ES256, typ at+jwt, as identity signs). */
export async function mintTokens(count: number): Promise<Tokens> {
  const issuer = await createTestIssuer();
  const exp = Math.floor(Date.now() / 1000) + 4 * 3600;
  const users: string[] = [];
  for (let i = 0; i < count; i++) users.push(await issuer.sign({ sub: userId(i), exp }));
  return { issuer: issuer.issuer, jwks: await issuer.jwks(), users, sender: await issuer.sign({ sub: "sender", exp }) };
}
