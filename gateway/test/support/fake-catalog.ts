// A tiny in-memory CatalogService behind an Invoke function, recording every
// call, so tests can check what the gateway sent and script what comes back.
import { create, type DescMessage, type DescMethodUnary, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";
import { type FieldViolation, FlotillaError, kitErrors } from "@flotilla/kit";
import type { Invoke } from "../../src/index.ts";

export interface RecordedCall {
  method: string;
  input: MessageShape<DescMessage>;
  options: Parameters<Invoke>[3];
}

type Handler = (input: MessageShape<DescMessage>) => MessageShape<DescMessage> | Promise<MessageShape<DescMessage>>;

export interface FakeCatalog {
  readonly invoke: Invoke;
  readonly calls: RecordedCall[];
  /** Answers every call with this instead of the catalog (until reset). */
  override(handler: (method: DescMethodUnary, options: Parameters<Invoke>[3]) => Promise<MessageShape<DescMessage>>): void;
  reset(): void;
}

export function fakeCatalog(): FakeCatalog {
  const events = new Map<string, catalogV1.Event>();
  const add = (eventId: string, title: string, city: string, day: number) =>
    events.set(
      eventId,
      create(catalogV1.EventSchema, {
        eventId,
        title,
        city,
        category: catalogV1.EventCategory.CONCERT,
        startsAt: timestampFromDate(new Date(Date.UTC(2030, 0, day))),
        capacity: 100,
        priceMinor: 2500n,
        currency: "EUR",
      }),
    );
  add("evt_1", "Fado night", "Lisbon", 1);
  add("evt_2", "Jazz in the park", "Porto", 2);
  add("evt_3", "Derby", "Lisbon", 3);

  const handlers: Record<string, Handler> = {
    ListEvents: (input) => {
      const req = input as catalogV1.ListEventsRequest;
      const all = [...events.values()].filter((e) => req.city === "" || e.city.toLowerCase() === req.city.toLowerCase());
      const start = req.pageToken === "" ? 0 : Number(req.pageToken);
      const size = req.pageSize === 0 ? 20 : req.pageSize;
      const page = all.slice(start, start + size);
      const next = start + size < all.length ? String(start + size) : "";
      return create(catalogV1.ListEventsResponseSchema, { events: page, nextPageToken: next });
    },
    GetEvent: (input) => {
      const { eventId } = input as catalogV1.GetEventRequest;
      const event = events.get(eventId);
      if (event === undefined) {
        throw new FlotillaError({ code: "CATALOG_ERR_EVENT_NOT_FOUND", rpc: "not_found", message: `no event ${eventId}` });
      }
      return create(catalogV1.GetEventResponseSchema, { event });
    },
    CreateEvent: (input) => {
      const req = input as catalogV1.CreateEventRequest;
      const violations: FieldViolation[] = [];
      if (req.title === "") violations.push({ field: "title", message: "value length must be at least 1 characters", rule: "string.min_len" });
      if (req.capacity === 0) violations.push({ field: "capacity", message: "value must be greater than 0", rule: "uint32.gt" });
      if (!/^[A-Z]{3}$/.test(req.currency)) violations.push({ field: "currency", message: "value does not match regex pattern", rule: "string.pattern" });
      if (violations.length > 0) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", "the event is invalid", { violations });
      const eventId = `evt_${events.size + 1}`;
      const event = create(catalogV1.EventSchema, { ...req, eventId, $typeName: "flotilla.catalog.v1.Event" });
      events.set(eventId, event);
      return create(catalogV1.CreateEventResponseSchema, { event });
    },
  };

  const calls: RecordedCall[] = [];
  let scripted: Parameters<FakeCatalog["override"]>[0] | undefined;
  const invoke: Invoke = async (_service, method, input, options) => {
    calls.push({ method: method.name, input, options });
    if (scripted !== undefined) return scripted(method, options);
    const handler = handlers[method.name];
    if (handler === undefined) throw kitErrors.create("KIT_ERR_UNIMPLEMENTED", `no ${method.name}`);
    return handler(input);
  };
  return {
    invoke,
    calls,
    override: (handler) => {
      scripted = handler;
    },
    reset: () => {
      scripted = undefined;
      calls.length = 0;
    },
  };
}
