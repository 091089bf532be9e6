// Pure catalog rules: no I/O, easy to test.
import { catalogErrors } from "./errors.ts";

export const DEFAULT_PAGE_SIZE = 20;

/** Where a page starts: after the event with this start time and id (keyset paging). */
export interface Cursor {
  startsAt: string;
  eventId: string;
}

export function pageSize(requested: number): number {
  return requested === 0 ? DEFAULT_PAGE_SIZE : requested;
}

export function encodePageToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.startsAt, cursor.eventId])).toString("base64url");
}

export function decodePageToken(token: string): Cursor | undefined {
  if (token === "") return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string" && !Number.isNaN(Date.parse(value[0]))) {
      return { startsAt: value[0], eventId: value[1] };
    }
  } catch {
    // fall through to the typed error
  }
  throw catalogErrors.create("CATALOG_ERR_BAD_PAGE_TOKEN", "page_token is not valid; use next_page_token from a previous response");
}

/** Events are published for the future; a small skew tolerates client clocks. */
export function checkStartsInFuture(startsAt: Date, now: Date): void {
  if (startsAt.getTime() < now.getTime() - 60_000) {
    throw catalogErrors.create("CATALOG_ERR_PAST_EVENT", `starts_at ${startsAt.toISOString()} is in the past`, {
      violations: [{ field: "starts_at", message: "must be in the future" }],
    });
  }
}

export function newEventId(random: () => string = () => crypto.randomUUID()): string {
  return `evt_${random().replaceAll("-", "").slice(0, 20)}`;
}
