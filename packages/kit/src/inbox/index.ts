export { type ConsumeOptions, consume, consumeBatches, type InboxBatchHandler, type InboxHandler } from "./consume.ts";
export { type DeadLetter, listDeadLetters, replayDeadLetters } from "./dead-letters.ts";
export { inboxMigrations } from "./migrations.ts";
export { INBOX_RETENTION_MS, pruneInbox } from "./prune.ts";
