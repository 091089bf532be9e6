// Test-only helpers shared by the transport and client tests (internal).
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { catalogV1 } from "@flotilla/contracts";
import type { Instance } from "../registry/types.ts";
import type { ServiceHandlers } from "../service/types.ts";

export const { CatalogService } = catalogV1;
export type CatalogHandlers = ServiceHandlers<typeof catalogV1.CatalogService>;

export function sampleEvent(eventId: string): MessageInitShape<typeof catalogV1.EventSchema> {
  return { eventId, title: `event ${eventId}`, city: "Lyon", capacity: 100, priceMinor: 2500n, currency: "EUR", startsAt: timestampFromMs(1_800_000_000_000) };
}

/** Handlers that answer from memory; override any of them per test. */
export function fakeCatalog(overrides: Partial<CatalogHandlers> = {}): CatalogHandlers {
  return {
    async listEvents(request) {
      const size = request.pageSize === 0 ? 3 : request.pageSize;
      return { events: Array.from({ length: size }, (_, i) => sampleEvent(`e${i}`)) };
    },
    async getEvent(request) {
      return { event: sampleEvent(request.eventId) };
    },
    async createEvent(request) {
      return { event: { ...sampleEvent("new-1"), title: request.title, city: request.city } };
    },
    async getCityCalendar(request) {
      return { city: request.city, days: [] };
    },
    ...overrides,
  };
}

export function validCreateRequest(): MessageInitShape<typeof catalogV1.CreateEventRequestSchema> {
  return {
    title: "Jazz night",
    category: catalogV1.EventCategory.CONCERT,
    venue: "Le Sucre",
    city: "Lyon",
    startsAt: timestampFromMs(1_800_000_000_000),
    capacity: 300,
    priceMinor: 2000n,
    currency: "EUR",
  };
}

export function instance(id: string, address: string): Instance {
  return { id, service: "catalog", version: "1.0.0", address, labels: {}, startedAt: 0 };
}

export function getEventRequest(eventId: string) {
  return create(catalogV1.GetEventRequestSchema, { eventId });
}
