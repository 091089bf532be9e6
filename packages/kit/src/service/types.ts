import type { DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { CloudEvent, Subscription } from "../bus/types.ts";
import type { Database, Migration, Queryable } from "../db/types.ts";
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
}

/** A started service: its handlers, and optional hooks. */
export interface ServiceParts<S extends DescService> {
  handlers: ServiceHandlers<S>;
  /** Sample data for `flotilla dev`; must be idempotent (it runs at every start). */
  seed?: () => Promise<void>;
  stop?: () => Promise<void>;
}

export interface ServiceDefinition<S extends DescService = DescService> {
  /** Registry name, database schema/role name: lower-case, e.g. `catalog`. */
  readonly name: string;
  readonly version: string;
  readonly contract: S;
  readonly migrations: readonly Migration[];
  create(ctx: ServiceContext): Promise<ServiceParts<S>> | ServiceParts<S>;
}
