import { PgliteProvider } from "../db/pglite.ts";
import { sagaSuite } from "./orchestrator-suite.ts";

// One in-memory PGlite with a schema per test, as the embedded runtime shares one among services.
sagaSuite("pglite", async () => new PgliteProvider());
