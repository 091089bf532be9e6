// The Router both chassis servers serve: GetEvent answers the fixed event.
import { catalogV1 } from "@flotilla/contracts";
import { Router } from "@flotilla/kit/internal";
import { eventFor } from "../payload.ts";

export function benchRouter(): Router {
  return new Router().add(catalogV1.CatalogService, {
    async getEvent(request) {
      return { event: eventFor(request.eventId) };
    },
    async listEvents() {
      return {};
    },
    async createEvent() {
      return {};
    },
    async getCityCalendar() {
      return {};
    },
  });
}
