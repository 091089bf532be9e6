// Which message each recent seq of a conversation was, once for the whole
// replica: what a client's `ack` (up to a seq) turns into message_seen events.
//
// Every socket used to keep its own list of the messages it had been sent and
// not yet acknowledged. A fan-out to 10 000 sockets then grew 10 000 arrays,
// and with clients that ack late the replica's old generation filled with
// them: full GCs of 10–40 ms stalled the fan-outs (bench/realtime). Now a
// socket keeps two numbers per conversation (sent, acknowledged) and the ids
// are looked up here. A message forgotten here only means a push that was not
// needed, never a lost message.

export interface RecentMessage {
  readonly messageId: string;
  readonly senderId: string;
}

/** Seqs kept per conversation: an ack further behind than this marks nothing seen. */
const PER_CONVERSATION = 1_000;
/** Seqs kept in all (≈ 100 bytes each); beyond, the conversations written least recently go. */
const BUDGET = 200_000;

export class RecentMessages {
  /** In order of the last write: the first conversation is the one to drop. */
  readonly #conversations = new Map<string, Map<number, RecentMessage>>();
  readonly #perConversation: number;
  readonly #budget: number;
  #size = 0;

  constructor(perConversation = PER_CONVERSATION, budget = BUDGET) {
    this.#perConversation = perConversation;
    this.#budget = budget;
  }

  /** How many seqs an ack can reach back (see PER_CONVERSATION). */
  get window(): number {
    return this.#perConversation;
  }

  remember(conversationId: string, seq: number, messageId: string, senderId: string): void {
    let seqs = this.#conversations.get(conversationId);
    if (seqs?.has(seq)) return;
    if (seqs) this.#conversations.delete(conversationId);
    else seqs = new Map();
    this.#conversations.set(conversationId, seqs);
    seqs.set(seq, { messageId, senderId });
    this.#size++;
    if (seqs.size > this.#perConversation) {
      // Seqs arrive in order (live) or as older pages (catch-up): drop the lowest kept.
      let lowest = seq;
      for (const s of seqs.keys()) if (s < lowest) lowest = s;
      seqs.delete(lowest);
      this.#size--;
    }
    while (this.#size > this.#budget) {
      const [oldest, dropped] = this.#conversations.entries().next().value as [string, Map<number, RecentMessage>];
      this.#conversations.delete(oldest);
      this.#size -= dropped.size;
    }
  }

  get(conversationId: string, seq: number): RecentMessage | undefined {
    return this.#conversations.get(conversationId)?.get(seq);
  }
}
