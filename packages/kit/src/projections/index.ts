export { defineProjection, type Projection } from "./define-projection.ts";
export { projectionMigrations } from "./migrations.ts";
export { ProjectionRunner, type ProjectionRunnerOptions } from "./projection-runner.ts";
