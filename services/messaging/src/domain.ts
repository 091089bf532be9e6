// Pure rules of messaging: who may be in a conversation, paging, previews. No I/O.
import { messagingV1 } from "@flotilla/contracts";
import { messagingErrors } from "./errors.ts";

const { ConversationKind } = messagingV1;

/** The members of a new conversation, caller first, after checking the kind's rules. */
export function membersOf(kind: messagingV1.ConversationKind, caller: string, others: readonly string[]): string[] {
  if (others.includes(caller)) throw messagingErrors.create("MESSAGING_ERR_BAD_MEMBERS", "member_ids lists the caller; the caller is always a member");
  if (kind === ConversationKind.DIRECT && others.length !== 1) {
    throw messagingErrors.create("MESSAGING_ERR_BAD_MEMBERS", `a direct conversation has exactly one other member, not ${others.length}`);
  }
  return [caller, ...others];
}

/** The key that makes a direct conversation unique per pair, whoever starts it. */
export function directKey(a: string, b: string): string {
  return JSON.stringify(a < b ? [a, b] : [b, a]);
}

export function pageSize(requested: number, fallback: number): number {
  return requested > 0 ? requested : fallback;
}

/** The start of a message for a notification: at most 120 characters, not cut inside a surrogate pair. */
export function previewOf(text: string): string {
  const chars = Array.from(text);
  return chars.length <= 120 ? text : `${chars.slice(0, 119).join("")}…`;
}

// PostgreSQL's text form of a timestamptz, kept exact (microseconds) for the keyset.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/;

export interface ConversationCursor {
  at: string;
  id: string;
}

export function encodePageToken(cursor: ConversationCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

export function decodePageToken(token: string): ConversationCursor | undefined {
  if (token === "") return undefined;
  try {
    const value = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (typeof value === "object" && value !== null) {
      const { at, id } = value as Record<string, unknown>;
      if (typeof at === "string" && typeof id === "string" && TIMESTAMP.test(at)) return { at, id };
    }
  } catch {
    // falls through to the typed error
  }
  throw messagingErrors.create("MESSAGING_ERR_BAD_PAGE_TOKEN", "page_token is not a token from a previous ListConversations response");
}
