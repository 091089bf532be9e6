import type { Queryable } from "../db/types.ts";
import { toPosition } from "../eventstore/rows.ts";

interface PositionRow extends Record<string, unknown> {
  position: string | number;
}

/** Creates the projection's checkpoint at 0 unless it exists. */
export async function ensureCheckpoint(db: Queryable, name: string): Promise<void> {
  await db.query("INSERT INTO flotilla_projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [name]);
}

/** The last global position applied; 0 for a projection that never ran. */
export async function readCheckpoint(db: Queryable, name: string): Promise<number> {
  const rows = await db.query<PositionRow>("SELECT position FROM flotilla_projection_checkpoints WHERE name = $1", [name]);
  return rows[0] === undefined ? 0 : toPosition(rows[0].position);
}

/**
 * Locks the checkpoint row until the transaction ends and returns its
 * position: of two runners (replicas) on one projection, the second waits,
 * then sees the first one's new position and drops its now stale batch.
 */
export async function lockCheckpoint(tx: Queryable, name: string): Promise<number> {
  const rows = await tx.query<PositionRow>("SELECT position FROM flotilla_projection_checkpoints WHERE name = $1 FOR UPDATE", [name]);
  return rows[0] === undefined ? 0 : toPosition(rows[0].position);
}

export async function writeCheckpoint(tx: Queryable, name: string, position: number): Promise<void> {
  await tx.query("UPDATE flotilla_projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1", [name, position]);
}
