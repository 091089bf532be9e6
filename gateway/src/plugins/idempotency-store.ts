// Where the idempotency plugin keeps its claims and stored responses. One small
// interface, two implementations side by side (memory, Redis), one
// conformance suite (idempotency-store-conformance.ts) run against both.

/** A response as the first request produced it, replayed for its retries. */
export interface StoredResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

export type BeginResult =
  /** The key was free: run the request, then `complete` or `release` with this token. */
  | { readonly state: "started"; readonly token: string }
  /** Another request with the key is running. */
  | { readonly state: "running"; readonly fingerprint: string }
  /** A request with the key finished: its response. */
  | { readonly state: "done"; readonly fingerprint: string; readonly response: StoredResponse };

export interface IdempotencyStore {
  /**
   * Atomically claims `key` for a request whose body hash is `fingerprint`, or
   * says who has it. The claim expires after `lockMs` if its holder dies.
   */
  begin(key: string, fingerprint: string, lockMs: number): Promise<BeginResult>;
  /** Stores the response of the claim for `ttlMs`; a no-op when `token` no longer holds the key. */
  complete(key: string, token: string, fingerprint: string, response: StoredResponse, ttlMs: number): Promise<void>;
  /** Forgets the claim (the request failed in a way a retry may fix); a no-op when `token` no longer holds it. */
  release(key: string, token: string): Promise<void>;
  close(): Promise<void>;
}

/** What both implementations keep under a key. */
export type StoredEntry =
  | { readonly s: "running"; readonly t: string; readonly f: string }
  | { readonly s: "done"; readonly t: string; readonly f: string; readonly r: StoredResponse };

export function resultOf(entry: StoredEntry): BeginResult {
  return entry.s === "running" ? { state: "running", fingerprint: entry.f } : { state: "done", fingerprint: entry.f, response: entry.r };
}
