import type { CloudEvent } from "../bus/types.ts";
import type { Database, Queryable } from "../db/types.ts";

/** JSON-safe metadata stored beside an event (jsonb). */
export type EventMetadata = Readonly<Record<string, unknown>>;

/** An event to append. `data` is opaque to the store (usually a protobuf encoding). */
export interface NewEvent {
  /** Unique across the store; a random UUID when omitted. Published as the CloudEvent `id`. */
  readonly id?: string;
  /** Named and versioned: `counter.incremented.v1`. */
  readonly type: string;
  readonly data: Uint8Array;
  /**
   * Free-form. Keys read when the event is published as a CloudEvent:
   * `dataschema` (required then: the protobuf message name), `traceparent`, `tracestate`.
   */
  readonly metadata?: EventMetadata;
}

/** An event as stored. */
export interface RecordedEvent {
  /** Order across all streams of the store: increasing, with gaps (rolled-back appends). */
  readonly globalPosition: number;
  readonly streamId: string;
  /** 1 for the first event of its stream, then 2, 3, … without gaps. */
  readonly version: number;
  readonly id: string;
  readonly type: string;
  readonly data: Uint8Array;
  readonly metadata: EventMetadata;
  readonly recordedAt: Date;
}

/**
 * What the writer believes the stream's version is:
 *   a number   exactly that many events (0 is the same as "no_stream");
 *   "no_stream" the stream has no event yet;
 *   "any"       no check (the append still gets consecutive versions).
 */
export type ExpectedVersion = number | "any" | "no_stream";

export interface AppendResult {
  /** The stream's version after the append: the version of its last event. */
  readonly nextVersion: number;
  /** One per appended event, in order. */
  readonly globalPositions: readonly number[];
}

export interface ReadStreamOptions {
  /** First version returned (inclusive); default 1. */
  readonly fromVersion?: number;
  /** At most this many events; default all. */
  readonly limit?: number;
}

export interface ReadAllOptions {
  /** First global position returned (inclusive); default 1. A checkpoint `p` reads from `p + 1`. */
  readonly fromPosition?: number;
  /** At most this many events; default 1000. */
  readonly limit?: number;
}

/** A stream's state as of `version`, saved to skip replaying its first events. */
export interface Snapshot {
  readonly version: number;
  /** JSON-safe value (jsonb). */
  readonly state: unknown;
  readonly takenAt: Date;
}

/** Hands appended events to the outbox inside the append's transaction. */
export type PublishHook = (tx: Queryable, events: readonly CloudEvent[]) => Promise<void>;

export interface EventStoreOptions {
  /** The service's own database, migrated with `eventstoreMigrations`. */
  readonly db: Database;
  /**
   * Called inside the append transaction with the appended events as
   * CloudEvents, so state and outgoing events commit or roll back together:
   *   new EventStore({ db, publish: (tx, events) => outbox.enqueue(tx, events) })
   */
  readonly publish?: PublishHook;
  /** CloudEvents `source` of published events; default `/flotilla/<service>`. */
  readonly source?: string;
}
