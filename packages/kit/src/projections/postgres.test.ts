import { after } from "node:test";
import { postgresTestSetup } from "../eventstore/postgres-test-setup.ts";
import { projectionConformance } from "./conformance.ts";

const setup = postgresTestSetup("pr");

// Two providers, two pools: the two runners of a projection really overlap.
projectionConformance("postgres", setup.makeProvider, { makeReplica: setup.makeProvider });

after(setup.dropAll);
