import type { Queryable } from "../db/types.ts";
import { kitErrors } from "../errors/index.ts";
import type { RecordedEvent } from "../eventstore/types.ts";

export interface Projection {
  /** Unique in its database: it names the checkpoint. Lower-case, e.g. `events-by-city`. */
  readonly name: string;
  /** Only these event types reach `handle`; the others still move the checkpoint. Default: all. */
  readonly types?: readonly string[];
  /**
   * Applies one event to the read model, through `tx` only: the change
   * commits with the checkpoint, or not at all. Throwing rolls back the
   * whole batch; the runner tries it again later, so a projection stops at
   * an event it cannot handle rather than skipping it.
   */
  handle(event: RecordedEvent, tx: Queryable): Promise<void>;
  /** Empties the read model for a rebuild (DELETE or TRUNCATE its tables). */
  reset?(tx: Queryable): Promise<void>;
}

const NAME = /^[a-z][a-z0-9_.-]{0,62}$/;

/**
 * Declares a CQRS read model fed from the event store.
 *
 *   const byCity = defineProjection({
 *     name: "events-by-city",
 *     types: ["catalog.event_published.v1"],
 *     handle: (e, tx) => tx.query("INSERT INTO by_city ... ON CONFLICT ... DO UPDATE ...", [...]),
 *     reset: (tx) => tx.exec("DELETE FROM by_city"),
 *   });
 */
export function defineProjection(projection: Projection): Projection {
  if (!NAME.test(projection.name)) {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `projection name "${projection.name}" must match ${NAME}`);
  }
  if (typeof projection.handle !== "function") {
    throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `projection ${projection.name} has no handle function`);
  }
  return Object.freeze({ ...projection, ...(projection.types ? { types: Object.freeze([...projection.types]) } : {}) });
}
