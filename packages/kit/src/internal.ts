// Internal surface: Flotilla's own runtime, CLI, gateway and tests use it; not a stable API.
export * from "./broadcast/index.ts";
export * from "./bus/index.ts";
export * from "./cache/index.ts";
export * from "./client/index.ts";
export * from "./config/index.ts";
export * from "./db/index.ts";
export * from "./eventstore/index.ts";
export * from "./inbox/index.ts";
export * from "./outbox/index.ts";
export * from "./projections/index.ts";
export * from "./registry/index.ts";
export * from "./runtime/index.ts";
export * from "./saga/index.ts";
export * from "./security/index.ts";
export * from "./telemetry/index.ts";
export * from "./transport/index.ts";
