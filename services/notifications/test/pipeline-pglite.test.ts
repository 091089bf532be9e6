import { PgliteProvider } from "@flotilla/kit/internal";
import { pipelineSuite } from "./pipeline-suite.ts";

pipelineSuite("pglite", async () => new PgliteProvider());
