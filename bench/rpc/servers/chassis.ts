// Contender (a): the Flotilla chassis — Router + Connect server, trivial handler.
import "./report-cpu.ts";
import { catalogV1 } from "@flotilla/contracts";
import { Router, startRpcServer } from "@flotilla/kit/internal";
import { eventFor } from "../payload.ts";

const router = new Router().add(catalogV1.CatalogService, {
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
const server = await startRpcServer({ router, host: "127.0.0.1", port: 0 });
process.send?.({ url: server.url });
process.on("SIGTERM", () => void server.close(500).then(() => process.exit(0)));
