import { kitErrors } from "../errors/index.ts";
import type { ExpectedVersion, NewEvent } from "./types.ts";

// Bad input is the caller's bug: refused before any SQL runs, with a message that names it.
function invalid(message: string): never {
  throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", message);
}

export function checkStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== "string" || streamId === "") invalid(`stream id must be a non-empty string, got ${JSON.stringify(streamId)}`);
}

export function checkPositive(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) invalid(`${name} must be an integer ≥ 1, got ${value}`);
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) invalid(`limit must be an integer ≥ 1, got ${limit}`);
}

export function checkAppend(expected: ExpectedVersion, events: readonly NewEvent[]): void {
  if (expected !== "any" && expected !== "no_stream" && !(Number.isSafeInteger(expected) && expected >= 0)) {
    invalid(`expected version must be "any", "no_stream" or an integer ≥ 0, got ${JSON.stringify(expected)}`);
  }
  if (!Array.isArray(events)) invalid("events must be an array");
  events.forEach((event, i) => {
    if (typeof event?.type !== "string" || event.type === "") invalid(`event ${i} has no type`);
    if (!(event.data instanceof Uint8Array)) invalid(`event ${i} (${event.type}) data must be a Uint8Array`);
    if (event.id !== undefined && (typeof event.id !== "string" || event.id === "")) invalid(`event ${i} (${event.type}) id must be a non-empty string`);
    if (event.metadata !== undefined && (typeof event.metadata !== "object" || event.metadata === null || Array.isArray(event.metadata))) {
      invalid(`event ${i} (${event.type}) metadata must be an object`);
    }
  });
}

/**
 * JSON text for a `$n::text::jsonb` parameter. Sent as text so both drivers
 * treat every value alike (a bare string would otherwise be sent unquoted).
 */
export function toJsonText(what: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `${what} is not JSON-serialisable`, { cause });
  }
  if (text === undefined) invalid(`${what} is not JSON-serialisable`);
  return text;
}
