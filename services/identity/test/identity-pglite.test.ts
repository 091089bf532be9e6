// Identity's flows over HTTP with its database on PGlite (the embedded runtime).
import { identitySuite } from "./support/suite.ts";

identitySuite("pglite");
