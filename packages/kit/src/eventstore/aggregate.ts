import { ExponentialBackoff, handleWhen, retry } from "cockatiel";
import { kitErrors } from "../errors/index.ts";
import type { EventStore } from "./event-store.ts";
import type { EventMetadata, NewEvent, RecordedEvent } from "./types.ts";

/** Turns domain events into stored ones and back (protobuf toBinary/fromBinary, usually). */
export interface EventCodec<E> {
  encode(event: E): NewEvent;
  decode(event: RecordedEvent): E;
}

/** How state goes into a JSON snapshot. Bump `revision` when the state's shape or evolve changes: older snapshots are then ignored. */
export interface SnapshotCodec<S> {
  readonly revision: number;
  toJSON(state: S): unknown;
  fromJSON(json: unknown): S;
}

interface AggregateCore<S, C, E> {
  /** The state of a stream with no event. */
  readonly initial: S;
  /** Pure: the state after one event. Never throws for an event decide produced. */
  evolve(state: S, event: E): S;
  /** Pure: the events a command produces in a state, or a thrown FlotillaError when the command is refused. */
  decide(command: C, state: S): readonly E[];
}

export interface AggregateDefinition<S, C, E> extends AggregateCore<S, C, E> {
  /**
   * Default (only for events with a string `type`): the event as JSON, for
   * tests and prototypes. Real services encode protobuf messages.
   */
  readonly codec?: EventCodec<E>;
  /** Default: the state itself, which must then be JSON-safe; revision 1. */
  readonly snapshot?: Partial<SnapshotCodec<S>>;
}

export interface Aggregate<S, C, E> extends AggregateCore<S, C, E> {
  readonly codec: EventCodec<E>;
  readonly snapshot: SnapshotCodec<S>;
  /** The state after `events`, from `from` (default `initial`). */
  fold(events: readonly E[], from?: S): S;
}

/**
 * Declares an aggregate in decide/evolve style: pure functions, no I/O, so
 * the domain logic is tested without a database.
 *
 *   const counter = defineAggregate({
 *     initial: { count: 0 },
 *     decide: (cmd: { add: number }, s) => [{ type: "counter.added.v1", by: cmd.add }],
 *     evolve: (s, e: { type: "counter.added.v1"; by: number }) => ({ count: s.count + e.by }),
 *   });
 */
export function defineAggregate<S, C, E extends { readonly type: string }>(definition: AggregateDefinition<S, C, E>): Aggregate<S, C, E>;
/** Events without a string `type` need a codec. */
export function defineAggregate<S, C, E>(definition: AggregateDefinition<S, C, E> & { readonly codec: EventCodec<E> }): Aggregate<S, C, E>;
export function defineAggregate<S, C, E>(definition: AggregateDefinition<S, C, E>): Aggregate<S, C, E> {
  const { initial, evolve, decide } = definition;
  const codec = definition.codec ?? (jsonCodec as unknown as EventCodec<E>);
  const snapshot: SnapshotCodec<S> = {
    revision: definition.snapshot?.revision ?? 1,
    toJSON: definition.snapshot?.toJSON ?? ((state) => state),
    fromJSON: definition.snapshot?.fromJSON ?? ((json) => json as S),
  };
  return {
    initial,
    evolve,
    decide,
    codec,
    snapshot,
    fold: (events, from = initial) => events.reduce(evolve, from),
  };
}

const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder() };

// The whole event as JSON under its own `type`.
const jsonCodec: EventCodec<{ readonly type: string }> = {
  encode(event) {
    if (typeof event?.type !== "string") {
      throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "the JSON event codec needs events with a string `type`; give the aggregate a codec");
    }
    return { type: event.type, data: utf8.encoder.encode(JSON.stringify(event)) };
  },
  decode: (event) => JSON.parse(utf8.decoder.decode(event.data)) as { type: string },
};

/** What handleCommand needs of a store (an EventStore, or a stand-in in tests). */
export type AggregateStore = Pick<EventStore, "append" | "readStream" | "loadSnapshot" | "saveSnapshot">;

export interface LoadOptions {
  /** Start from the stream's snapshot when there is one (default true). */
  readonly useSnapshot?: boolean;
}

export interface LoadedState<S> {
  readonly state: S;
  /** The stream's version the state reflects; 0 for a stream with no event. */
  readonly version: number;
  /** The version of the snapshot used, 0 when none was. */
  readonly snapshotVersion: number;
}

export interface HandleCommandOptions extends LoadOptions {
  /**
   * Save a snapshot once this many events were appended past the last one
   * (default: never). Snapshots are read only when this is set, unless
   * `useSnapshot` says otherwise.
   */
  readonly snapshotEvery?: number;
  /** Tries in all when the stream changed under us (default 5). */
  readonly maxAttempts?: number;
  /** Merged into every event's metadata (trace context, causation id, `dataschema`). */
  readonly metadata?: EventMetadata;
}

export interface CommandResult<S, E> {
  /** The state after the command's events. */
  readonly state: S;
  readonly events: readonly E[];
  /** The stream's version after the append (unchanged when decide returned no event). */
  readonly version: number;
  readonly globalPositions: readonly number[];
}

// Events read per query while replaying a long stream.
const PAGE = 1000;

/** The current state of a stream: its snapshot (when usable) plus the events after it. */
export async function loadState<S, C, E>(
  store: Pick<AggregateStore, "readStream" | "loadSnapshot">,
  aggregate: Aggregate<S, C, E>,
  streamId: string,
  options: LoadOptions = {},
): Promise<LoadedState<S>> {
  let state = aggregate.initial;
  let version = 0;
  if (options.useSnapshot ?? true) {
    const snap = await store.loadSnapshot(streamId);
    const body = snap?.state as { revision?: unknown; state?: unknown } | undefined;
    if (snap !== undefined && body?.revision === aggregate.snapshot.revision) {
      state = aggregate.snapshot.fromJSON(body.state);
      version = snap.version;
    }
  }
  const snapshotVersion = version;
  for (;;) {
    const page = await store.readStream(streamId, { fromVersion: version + 1, limit: PAGE });
    for (const event of page) {
      state = aggregate.evolve(state, aggregate.codec.decode(event));
      version = event.version;
    }
    if (page.length < PAGE) return { state, version, snapshotVersion };
  }
}

/**
 * Load, decide, append with the version loaded; when another writer got
 * there first (KIT_ERR_WRONG_EXPECTED_VERSION), load again and decide again,
 * up to `maxAttempts`. A refusal thrown by decide is not retried.
 *
 *   const { state } = await handleCommand(store, counter, `counter-${id}`, { add: 2 }, { snapshotEvery: 100 });
 */
export async function handleCommand<S, C, E>(
  store: AggregateStore,
  aggregate: Aggregate<S, C, E>,
  streamId: string,
  command: C,
  options: HandleCommandOptions = {},
): Promise<CommandResult<S, E>> {
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `maxAttempts must be an integer ≥ 1, got ${maxAttempts}`);
  }
  const every = options.snapshotEvery;
  if (every !== undefined && (!Number.isSafeInteger(every) || every < 1)) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `snapshotEvery must be an integer ≥ 1, got ${every}`);
  }
  // Jittered, so that writers who collided do not collide again in step.
  const policy = retry(
    handleWhen((error) => kitErrors.is(error, "KIT_ERR_WRONG_EXPECTED_VERSION")),
    { maxAttempts: maxAttempts - 1, backoff: new ExponentialBackoff({ initialDelay: 2, maxDelay: 50 }) },
  );
  return policy.execute(async () => {
    const loaded = await loadState(store, aggregate, streamId, { useSnapshot: options.useSnapshot ?? every !== undefined });
    const events = aggregate.decide(command, loaded.state);
    if (events.length === 0) return { state: loaded.state, events, version: loaded.version, globalPositions: [] };
    const encoded = events.map((e) => withMetadata(aggregate.codec.encode(e), options.metadata));
    const { nextVersion, globalPositions } = await store.append(streamId, loaded.version, encoded);
    const state = aggregate.fold(events, loaded.state);
    if (every !== undefined && nextVersion - loaded.snapshotVersion >= every) {
      // The events are committed: a snapshot is only a shortcut, and one that
      // failed to save is tried again by the next command on this stream.
      await store
        .saveSnapshot(streamId, nextVersion, { revision: aggregate.snapshot.revision, state: aggregate.snapshot.toJSON(state) })
        .catch(() => undefined);
    }
    return { state, events, version: nextVersion, globalPositions };
  });
}

function withMetadata(event: NewEvent, extra: EventMetadata | undefined): NewEvent {
  return extra === undefined ? event : { ...event, metadata: { ...extra, ...event.metadata } };
}
