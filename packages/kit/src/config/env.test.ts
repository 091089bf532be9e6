import assert from "node:assert/strict";
import { test } from "node:test";
import { FlotillaError } from "../errors/index.ts";
import { bool, int, loadConfig, oneOf, str, url } from "./env.ts";

const schema = {
  port: int("T_PORT", 8080, "listen port", { min: 0, max: 65535 }),
  nats: url("T_NATS", "nats://127.0.0.1:4222", "NATS servers", ["nats:"]),
  db: url("T_DB", "pglite", "database", ["postgres:", "postgresql:"], ["pglite", "memory"]),
  debug: bool("T_DEBUG", false, "debug"),
  level: oneOf("T_LEVEL", ["info", "debug"] as const, "info", "log level"),
  name: str("T_NAME", undefined, "instance name"),
};

test("defaults apply and values parse", () => {
  const c = loadConfig(schema, { T_NAME: "a", T_PORT: "9000", T_DEBUG: "yes", T_NATS: "nats://a:1,nats://b:2" });
  assert.deepEqual(c, { port: 9000, nats: "nats://a:1,nats://b:2", db: "pglite", debug: true, level: "info", name: "a" });
});

test("every bad variable is named in one error", () => {
  try {
    loadConfig(schema, { T_PORT: "80000", T_NATS: "redis://x", T_DEBUG: "maybe", T_LEVEL: "trace", T_DB: "mysql://x" });
    assert.fail("expected an error");
  } catch (error) {
    assert.ok(error instanceof FlotillaError);
    assert.equal(error.code, "KIT_ERR_CONFIG_INVALID");
    for (const name of ["T_PORT", "T_NATS", "T_DEBUG", "T_LEVEL", "T_NAME", "T_DB"]) assert.match(error.message, new RegExp(name));
    assert.match(error.message, /expected <= 65535/);
  }
});
