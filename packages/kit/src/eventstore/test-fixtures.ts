// Shared by the event store, aggregate and projection tests; not exported from the package.
import { migrate } from "../db/migrate.ts";
import type { Database, DatabaseProvider } from "../db/types.ts";
import { defineErrors, FlotillaError } from "../errors/index.ts";
import { defineAggregate } from "./aggregate.ts";
import { eventstoreMigrations } from "./migrations.ts";
import type { NewEvent } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

export function jsonEvent(type: string, body: unknown, extra: Partial<NewEvent> = {}): NewEvent {
  return { type, data: encoder.encode(JSON.stringify(body)), ...extra };
}

export function jsonData<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

export function isKitError(code: string) {
  return (error: unknown) => error instanceof FlotillaError && error.code === code;
}

export interface Databases {
  /** A fresh service database, migrated for the event store, and the same service opened through the replica provider. */
  open(tag: string): Promise<{ db: Database; replica: Database }>;
  close(): Promise<void>;
}

/**
 * Each test gets its own service (schema or database) so tests never see
 * each other's events; the replica handle is another provider (another
 * connection pool) where the backend has one, as a second replica would.
 */
export function testDatabases(prefix: string, provider: DatabaseProvider, replicaProvider: DatabaseProvider | undefined): Databases {
  let counter = 0;
  const handles: Database[] = [];
  return {
    async open(tag) {
      const service = `${prefix}${++counter}-${tag}`;
      const db = await provider.open(service);
      await migrate(db, eventstoreMigrations);
      const replica = await (replicaProvider ?? provider).open(service);
      handles.push(db, replica);
      return { db, replica };
    },
    async close() {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
}

// A tiny pure aggregate: seats of one show, never oversold.

export const seatErrors = defineErrors({
  TEST_ERR_SOLD_OUT: { rpc: "failed_precondition", retryable: false, doc: "Not enough seats left." },
});

export type SeatCommand = { kind: "reserve"; who: string; seats: number } | { kind: "release"; who: string };
export type SeatEvent = { type: "seats.reserved.v1"; who: string; seats: number } | { type: "seats.released.v1"; who: string; seats: number };
export interface SeatState {
  readonly capacity: number;
  readonly taken: Readonly<Record<string, number>>;
  readonly total: number;
}

export const seats = defineAggregate({
  initial: { capacity: 5, taken: {}, total: 0 } as SeatState,
  decide(command: SeatCommand, state: SeatState): SeatEvent[] {
    const held = state.taken[command.who] ?? 0;
    if (command.kind === "release") return held === 0 ? [] : [{ type: "seats.released.v1", who: command.who, seats: held }];
    // Reserving again is a no-op: a retried request changes nothing.
    if (held > 0) return [];
    if (state.total + command.seats > state.capacity) {
      throw seatErrors.create("TEST_ERR_SOLD_OUT", `${command.seats} seats asked, ${state.capacity - state.total} left`);
    }
    return [{ type: "seats.reserved.v1", who: command.who, seats: command.seats }];
  },
  evolve(state: SeatState, event: SeatEvent): SeatState {
    const taken = { ...state.taken };
    if (event.type === "seats.reserved.v1") taken[event.who] = event.seats;
    else delete taken[event.who];
    const total = state.total + (event.type === "seats.reserved.v1" ? event.seats : -event.seats);
    return { ...state, taken, total };
  },
});
