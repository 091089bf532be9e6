import { type DescMessage, fromBinary, getOption, hasOption, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { optionsV1 } from "@flotilla/contracts";
import { kitErrors } from "../errors/index.ts";
import { eventId } from "./event-id.ts";
import type { CloudEvent } from "./types.ts";

export interface CreateEventOptions {
  /** The publishing service as a URI reference: `/flotilla/catalog`. */
  source: string;
  /** The entity the event is about, e.g. the catalog event's id. */
  subject?: string;
  /** W3C trace context of the call that caused the event. */
  traceparent?: string;
  tracestate?: string;
  /** @default a new UUIDv7 */
  id?: string;
  /** @default now */
  time?: Date | string;
}

/**
 * The event type a message declares with `option (flotilla.options.v1.event_type)`,
 * for publishers and subscribers alike:
 *
 *   bus.subscribe({ consumer: "notifications.event-published", type: eventTypeOf(EventPublishedSchema) }, ...)
 */
export function eventTypeOf(schema: DescMessage): string {
  let type = eventTypes.get(schema);
  if (type === undefined) {
    if (!hasOption(schema, optionsV1.event_type)) {
      throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `${schema.typeName} is not an event: it has no (flotilla.options.v1.event_type) option`);
    }
    type = getOption(schema, optionsV1.event_type);
    eventTypes.set(schema, type);
  }
  return type;
}

// Reading an option decodes the descriptor's extensions each time: every
// event created or decoded asks, so remember the answer per schema.
const eventTypes = new WeakMap<DescMessage, string>();

/**
 * Wraps a protobuf event message in a CloudEvent:
 *
 *   createEvent(EventPublishedSchema, create(EventPublishedSchema, { event }), { source: "/flotilla/catalog", subject: event.id })
 */
export function createEvent<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>, options: CreateEventOptions): CloudEvent {
  const type = eventTypeOf(schema);
  if (options.source === "") throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "an event needs a source");
  const time = options.time === undefined ? new Date() : options.time;
  return {
    specversion: "1.0",
    id: options.id ?? eventId(),
    source: options.source,
    type,
    ...(options.subject === undefined ? {} : { subject: options.subject }),
    time: typeof time === "string" ? time : time.toISOString(),
    datacontenttype: "application/protobuf",
    dataschema: schema.typeName,
    ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
    ...(options.tracestate === undefined ? {} : { tracestate: options.tracestate }),
    data: toBinary(schema, message),
  };
}

/**
 * Reads the message out of an event, after checking the event is of this
 * schema (type and dataschema); a mismatch is KIT_ERR_INVALID_ARGUMENT and
 * undecodable data KIT_ERR_MALFORMED_REQUEST, neither worth retrying.
 */
export function decodeEvent<Desc extends DescMessage>(schema: Desc, event: CloudEvent): MessageShape<Desc> {
  const type = eventTypeOf(schema);
  if (event.type !== type || event.dataschema !== schema.typeName) {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `event ${event.id} is ${event.type} (${event.dataschema}), not ${type} (${schema.typeName})`);
  }
  if (event.datacontenttype !== "application/protobuf") {
    throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `event ${event.id} has datacontenttype ${String(event.datacontenttype)}, expected application/protobuf`);
  }
  try {
    return fromBinary(schema, event.data);
  } catch (cause) {
    throw kitErrors.create("KIT_ERR_MALFORMED_REQUEST", `event ${event.id}: data is not a valid ${schema.typeName}`, { cause });
  }
}
