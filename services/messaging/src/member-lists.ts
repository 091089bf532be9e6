// The member lists of the conversations this replica sends to, kept between
// sends. A send to a group of 10 000 read every member again (json_agg: ~2 ms
// in PostgreSQL and a 100 KB reply; 6–10 ms under load in bench/realtime);
// with the list kept, a send reads only the sender's own rows.
//
// A list is kept with the conversation's members_version, which every change
// of membership bumps in its own transaction. A send reads that version under
// the conversation's row lock, so a list kept for another version is never
// used: it is read again.
import type { ServiceCounter } from "@flotilla/kit";
import { LRUCache } from "lru-cache";

/** At most this many member ids kept per replica (≈ 20 MB of long ids). */
const DEFAULT_MAX_IDS = 250_000;

export interface KeptMembers {
  readonly version: bigint;
  readonly members: readonly string[];
}

export class MemberLists {
  readonly #lists: LRUCache<string, KeptMembers>;
  readonly #reads: ServiceCounter<"list"> | undefined;

  /** `reads` counts the sends by where their list came from: `kept`, or `read` from the database. */
  constructor(maxIds = DEFAULT_MAX_IDS, reads?: ServiceCounter<"list">) {
    this.#reads = reads;
    // A list larger than the whole budget is simply not kept (lru-cache refuses it).
    this.#lists = new LRUCache<string, KeptMembers>({ maxSize: maxIds, sizeCalculation: (kept) => kept.members.length + 1 });
  }

  /** The list kept for `conversationId` and the version it was read at; the caller checks the version. */
  peek(conversationId: string): KeptMembers | undefined {
    return this.#lists.get(conversationId);
  }

  /** Records whether a send used the kept list. */
  used(kept: boolean): void {
    this.#reads?.inc({ list: kept ? "kept" : "read" });
  }

  /** Member ids kept, over all lists. */
  get size(): number {
    return this.#lists.calculatedSize;
  }

  /** Keeps `members` as read at `version` (under the conversation's row lock). */
  set(conversationId: string, version: bigint, members: readonly string[]): void {
    this.#lists.set(conversationId, { version, members });
  }
}
