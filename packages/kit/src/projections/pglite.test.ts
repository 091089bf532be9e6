import { PgliteProvider } from "../db/pglite.ts";
import { projectionConformance } from "./conformance.ts";

projectionConformance("pglite", async () => new PgliteProvider());
