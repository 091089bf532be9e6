import type { CloudEvent } from "../bus/types.ts";

/**
 * How a CloudEvent is stored in a table row (the outbox, the dead letters):
 * one column per attribute, `data` as bytea. `specversion` and
 * `datacontenttype` are constants of the CloudEvent type and not stored.
 */
export const EVENT_COLUMNS = ["id", "source", "type", "subject", "time", "dataschema", "traceparent", "tracestate", "data"] as const;

export interface EventRow extends Record<string, unknown> {
  id: string;
  source: string;
  type: string;
  subject: string | null;
  time: string;
  dataschema: string;
  traceparent: string | null;
  tracestate: string | null;
  data: Uint8Array;
}

/** The values of EVENT_COLUMNS for one event, in that order. */
export function eventParams(event: CloudEvent): unknown[] {
  return [
    event.id,
    event.source,
    event.type,
    event.subject ?? null,
    event.time,
    event.dataschema,
    event.traceparent ?? null,
    event.tracestate ?? null,
    event.data,
  ];
}

/** The event a row holds; optional attributes that are NULL are left out. */
export function rowToEvent(row: EventRow): CloudEvent {
  return {
    specversion: "1.0",
    id: row.id,
    source: row.source,
    type: row.type,
    ...(row.subject === null ? {} : { subject: row.subject }),
    time: row.time,
    datacontenttype: "application/protobuf",
    dataschema: row.dataschema,
    ...(row.traceparent === null ? {} : { traceparent: row.traceparent }),
    ...(row.tracestate === null ? {} : { tracestate: row.tracestate }),
    // PostgreSQL's client returns a Buffer, PGlite a Uint8Array: hand out the same type from both.
    data: new Uint8Array(row.data),
  };
}

/** `($1, $2, …), ($10, …)` for `rows` rows of `width` parameters each. */
export function valuesPlaceholders(rows: number, width: number, first = 1): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < width; c++) cells.push(`$${first + r * width + c}`);
    out.push(`(${cells.join(", ")})`);
  }
  return out.join(", ");
}
