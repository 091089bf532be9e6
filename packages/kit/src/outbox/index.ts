export { enqueue } from "./enqueue.ts";
export { outboxMigrations } from "./migrations.ts";
export { OutboxRelay, type OutboxRelayOptions, type OutboxStats } from "./relay.ts";
