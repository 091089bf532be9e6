import type { CloudEvent } from "../bus/types.ts";
import { kitErrors } from "../errors/index.ts";
import type { RecordedEvent } from "./types.ts";

/**
 * An appended event as it leaves through the outbox: the stream is the
 * subject, the append time the event time, and the protobuf message name
 * (`dataschema`) and trace context come from the event's metadata.
 */
export function toCloudEvent(event: RecordedEvent, source: string): CloudEvent {
  const { dataschema, traceparent, tracestate } = event.metadata;
  if (typeof dataschema !== "string" || dataschema === "") {
    throw kitErrors.create(
      "KIT_ERR_INVALID_ARGUMENT",
      `event ${event.id} (${event.type}) is published but has no metadata.dataschema naming its protobuf message`,
    );
  }
  return {
    specversion: "1.0",
    id: event.id,
    source,
    type: event.type,
    subject: event.streamId,
    time: event.recordedAt.toISOString(),
    datacontenttype: "application/protobuf",
    dataschema,
    ...(typeof traceparent === "string" ? { traceparent } : {}),
    ...(typeof tracestate === "string" ? { tracestate } : {}),
    data: event.data,
  };
}
