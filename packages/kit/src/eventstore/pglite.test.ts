import { PgliteProvider } from "../db/pglite.ts";
import { eventStoreConformance } from "./conformance.ts";

// One PGlite is one connection: "concurrent" writers interleave between
// statements rather than run in parallel, which still exercises the checks.
eventStoreConformance("pglite", async () => new PgliteProvider());
