// Contender: the Flotilla chassis over HTTP — Router + Connect server, trivial handler.
import "./report-cpu.ts";
import { startRpcServer } from "@flotilla/kit/internal";
import { benchRouter } from "./bench-router.ts";

const server = await startRpcServer({ router: benchRouter(), host: "127.0.0.1", port: 0 });
process.send?.({ url: server.url });
process.on("SIGTERM", () => void server.close(500).then(() => process.exit(0)));
