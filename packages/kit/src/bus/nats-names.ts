import { createHash } from "node:crypto";
import { kitErrors } from "../errors/index.ts";
import { checkEventType } from "./event-checks.ts";

// Stream and consumer names may not hold `.`, `*`, `>`, whitespace or path
// separators; keep to a portable subset.
const NAME = /^[A-Za-z0-9_-]+$/;
const MAX_NAME = 64;

/** The subject an event of this type is published on: `events.catalog.event_published.v1`. */
export function eventSubject(prefix: string, type: string): string {
  checkEventType(type);
  return `${prefix}.${type}`;
}

export function checkStreamName(name: string): void {
  if (!NAME.test(name)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `invalid stream name ${JSON.stringify(name)}: letters, digits, "_" and "-" only`);
}

export function checkSubjectPrefix(prefix: string): void {
  try {
    checkEventType(prefix);
  } catch {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `invalid subject prefix ${JSON.stringify(prefix)}: dot-separated tokens of letters, digits, "_" or "-"`);
  }
}

/**
 * The JetStream durable name for a consumer name. Names that are already legal
 * pass unchanged; others have illegal characters replaced and a hash of the
 * original appended, so `a.b` and `a_b` stay two consumers:
 * `notifications.message-sent` → `notifications_message-sent_3f2a9c1b`.
 */
export function natsConsumerName(consumer: string): string {
  if (NAME.test(consumer) && consumer.length <= MAX_NAME) return consumer;
  const hash = createHash("sha256").update(consumer).digest("hex").slice(0, 8);
  const readable = consumer.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, MAX_NAME - hash.length - 1);
  return `${readable}_${hash}`;
}
