import { kitErrors } from "../errors/index.ts";

const TOPIC = /^[A-Za-z0-9_-]{1,128}(\.[A-Za-z0-9_-]{1,128}){0,7}$/;

/** Rejects a topic that is not dot-separated `[A-Za-z0-9_-]` tokens (no NATS wildcards, no empty token). */
export function checkTopic(topic: string): string {
  if (!TOPIC.test(topic)) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `broadcast topic "${topic.slice(0, 80)}" must be 1 to 8 dot-separated tokens of A-Z a-z 0-9 _ -`);
  }
  return topic;
}

/** A topic token for any string (a user id may hold dots or spaces): base64url of its UTF-8. */
export function topicToken(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url") || "_";
}
