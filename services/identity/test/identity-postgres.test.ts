// Identity's flows over HTTP with its database on PostgreSQL (the distributed runtime).
import { identitySuite } from "./support/suite.ts";

identitySuite("postgres");
