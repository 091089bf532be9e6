export {
  type Aggregate,
  type AggregateDefinition,
  type AggregateStore,
  type CommandResult,
  defineAggregate,
  type EventCodec,
  type HandleCommandOptions,
  handleCommand,
  type LoadedState,
  type LoadOptions,
  loadState,
  type SnapshotCodec,
} from "./aggregate.ts";
export { EventStore } from "./event-store.ts";
export { eventstoreMigrations } from "./migrations.ts";
export type {
  AppendResult,
  EventMetadata,
  EventStoreOptions,
  ExpectedVersion,
  NewEvent,
  PublishHook,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  Snapshot,
} from "./types.ts";
