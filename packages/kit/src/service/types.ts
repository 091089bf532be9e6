import type { DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { Broadcast } from "../broadcast/types.ts";
import type { CloudEvent, Subscription } from "../bus/types.ts";
import type { Database, Migration, Queryable } from "../db/types.ts";
import type { Invoke } from "../runtime/invoker.ts";
import type { ServiceMetrics } from "../telemetry/service-metrics.ts";
import type { CallContext } from "../transport/types.ts";

/** The handler for each unary method of a contract, keyed by the method's local name. */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod & { methodKind: "unary" }
    ? (
        request: MessageShape<S["method"][K]["input"]>,
        ctx: CallContext,
      ) => Promise<MessageInitShape<S["method"][K]["output"]>>
    : never;
};

/** What a service gets from the runtime when it starts. */
export interface ServiceContext {
  readonly name: string;
  readonly log: Logger;
  readonly db: Database;
  /** `embedded` or `distributed`; for logs only — services must not branch on it. */
  readonly mode: "embedded" | "distributed";
  /** The CloudEvents `source` of this service's events: `/flotilla/<name>`. */
  readonly source: string;
  /**
   * Publishes events through the transactional outbox: call it inside the
   * transaction that changes the state; the events leave only if it commits,
   * and then at least once.
   */
  readonly outbox: { enqueue(tx: Queryable, events: readonly CloudEvent[]): Promise<void> };
  /**
   * Consumes one event type through the inbox: `handler` runs in a transaction
   * with its effects, once per event id, retried with backoff, dead-lettered
   * after repeated failures. `name` makes the durable consumer `<service>.<name>`.
   */
  subscribe(name: string, type: string, handler: (event: CloudEvent, tx: Queryable) => Promise<void>): Promise<Subscription>;
  /**
   * Non-durable fan-out between this service's replicas (core NATS when
   * distributed, in-process when embedded), for realtime hints such as "user
   * 42 has a new message". What must not be lost goes through `outbox`.
   */
  readonly broadcast: Broadcast;
  /**
   * Calls other services through the chassis (discovery, mTLS, retries), as
   * this service; absent when the host has no invoker (unit tests). Used e.g.
   * to fetch identity's key set for token checks outside contract calls.
   */
  readonly invoke?: Invoke;
  /**
   * The service's own metrics, on the process's /metrics beside the chassis's
   * (names become `flotilla_<service>_<name>`).
   */
  readonly metrics: ServiceMetrics;
}

/**
 * Takes over an HTTP upgrade (a WebSocket) the runtime received for the
 * service: the service process's own server when distributed, the gateway
 * when embedded. It owns `socket` from then on.
 */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** A started service: its handlers, and optional hooks. */
export interface ServiceParts<S extends DescService> {
  handlers: ServiceHandlers<S>;
  /** Sample data for `flotilla dev`; must be idempotent (it runs at every start). */
  seed?: () => Promise<void>;
  stop?: () => Promise<void>;
  /** A WebSocket endpoint (e.g. messaging's realtime hub); see UpgradeHandler. */
  upgrade?: UpgradeHandler;
}

export interface ServiceDefinition<S extends DescService = DescService> {
  /** Registry name, database schema/role name: lower-case, e.g. `catalog`. */
  readonly name: string;
  readonly version: string;
  readonly contract: S;
  readonly migrations: readonly Migration[];
  create(ctx: ServiceContext): Promise<ServiceParts<S>> | ServiceParts<S>;
}
