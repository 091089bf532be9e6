import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { loadServiceProcessConfig } from "./process-config.ts";

function refused(env: NodeJS.ProcessEnv, names: string) {
  assert.throws(
    () => loadServiceProcessConfig(env),
    (e) => e instanceof FlotillaError && e.code === "KIT_ERR_CONFIG_INVALID" && e.message.includes(names),
  );
}

test("security settings: defaults, and bad values named at start", () => {
  const config = loadServiceProcessConfig({});
  assert.equal(config.mtls, "off");
  assert.equal(config.zeroTrust, "on");
  assert.equal(config.publicUrl, "http://127.0.0.1:8080");
  assert.equal(loadServiceProcessConfig({ FLOTILLA_MTLS: "on", FLOTILLA_TLS_DIR: "/etc/flotilla/tls" }).tlsDir, "/etc/flotilla/tls");
  refused({ FLOTILLA_MTLS: "on" }, "FLOTILLA_TLS_DIR is required when FLOTILLA_MTLS=on");
  refused({ FLOTILLA_MTLS: "yes" }, "FLOTILLA_MTLS");
  refused({ FLOTILLA_ZERO_TRUST: "maybe" }, "FLOTILLA_ZERO_TRUST");
  refused({ FLOTILLA_PUBLIC_URL: "http://x/" }, "FLOTILLA_PUBLIC_URL");
  // A service that does not encrypt needs no master key, but a malformed one stops every process.
  refused({ FLOTILLA_MASTER_KEY: randomBytes(16).toString("base64") }, "FLOTILLA_MASTER_KEY must decode to 32 bytes");
  assert.doesNotThrow(() => loadServiceProcessConfig({ FLOTILLA_MASTER_KEY: randomBytes(32).toString("base64") }));
});

test("RPC transport settings: http by default, nats on request, never nats with mTLS", () => {
  const config = loadServiceProcessConfig({});
  assert.equal(config.rpcTransport, "http");
  assert.equal(config.rpcSubjectPrefix, "flotilla.rpc");
  const nats = loadServiceProcessConfig({ FLOTILLA_RPC_TRANSPORT: "nats", FLOTILLA_RPC_NATS_URL: "nats://nats-a:4222,nats://nats-b:4222" });
  assert.equal(nats.rpcTransport, "nats");
  refused({ FLOTILLA_RPC_TRANSPORT: "grpc" }, "FLOTILLA_RPC_TRANSPORT");
  refused({ FLOTILLA_RPC_SUBJECT_PREFIX: "rpc.*" }, "FLOTILLA_RPC_SUBJECT_PREFIX");
  refused({ FLOTILLA_RPC_TRANSPORT: "nats", FLOTILLA_MTLS: "on", FLOTILLA_TLS_DIR: "/etc/flotilla/tls" }, "FLOTILLA_RPC_TRANSPORT=nats does not carry mTLS identities");
});

test("the ops port: none by default, 0 for any free port, a port number; anything else named at start", () => {
  assert.equal(loadServiceProcessConfig({}).opsPort, "");
  assert.equal(loadServiceProcessConfig({ FLOTILLA_OPS_PORT: "0" }).opsPort, "0");
  assert.equal(loadServiceProcessConfig({ FLOTILLA_OPS_PORT: "65535" }).opsPort, "65535");
  for (const bad of ["65536", "-1", "08", "port", "80 "]) refused({ FLOTILLA_OPS_PORT: bad }, "FLOTILLA_OPS_PORT");
});
