// The catalog's write side. A published event is a fact appended to the
// catalog's event store; in the same transaction it is
//  - applied to the `events` table (an inline projection, so a client reads
//    its own write at once), and
//  - queued in the outbox, which publishes it as `catalog.event_published.v1`.
// The city calendar is an asynchronous projection of the same store (projections.ts).
import { create, toBinary } from "@bufbuild/protobuf";
import { catalogEventsV1, type catalogV1 } from "@flotilla/contracts";
import type { ServiceContext } from "@flotilla/kit";
import { decodeEvent, EventStore, eventTypeOf } from "@flotilla/kit/internal";
import * as store from "./store.ts";

const { EventPublishedSchema } = catalogEventsV1;
export const EVENT_PUBLISHED = eventTypeOf(EventPublishedSchema);

export function catalogEventStore(ctx: Pick<ServiceContext, "db" | "source" | "outbox">): EventStore {
  return new EventStore({
    db: ctx.db,
    source: ctx.source,
    async publish(tx, events) {
      for (const e of events) {
        if (e.type !== EVENT_PUBLISHED) continue;
        const { event } = decodeEvent(EventPublishedSchema, e);
        if (event) await store.insertEvent(tx, event);
      }
      await ctx.outbox.enqueue(tx, events);
    },
  });
}

/** Appends the fact that `event` is on sale; its stream is `event-<id>`, new by definition. */
export async function publishEvent(es: EventStore, event: catalogV1.Event, trace: { traceparent?: string } = {}): Promise<void> {
  await es.append(`event-${event.eventId}`, "no_stream", [
    {
      id: crypto.randomUUID(),
      type: EVENT_PUBLISHED,
      data: toBinary(EventPublishedSchema, create(EventPublishedSchema, { event })),
      metadata: { dataschema: EventPublishedSchema.typeName, ...(trace.traceparent ? { traceparent: trace.traceparent } : {}) },
    },
  ]);
}
