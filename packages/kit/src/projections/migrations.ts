import type { Migration } from "../db/types.ts";

/**
 * Where each projection has got to, in the database that holds its read
 * model: the checkpoint moves in the same transaction as the read model.
 */
export const projectionMigrations: readonly Migration[] = [
  {
    id: "kit_projections_0001_create_checkpoints",
    sql: `
CREATE TABLE flotilla_projection_checkpoints (
  name text PRIMARY KEY,
  position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);`,
  },
];
