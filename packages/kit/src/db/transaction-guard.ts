import { AsyncLocalStorage } from "node:async_hooks";
import { kitErrors } from "../errors/index.ts";
import type { Queryable } from "./types.ts";

interface Hold {
  active: boolean;
}

/**
 * Catches a call on the database handle made from inside that handle's own
 * transaction callback. On PGlite (one connection) it would wait forever for
 * the transaction that waits for it; on PostgreSQL it would silently run
 * outside the transaction. Both backends reject it the same way.
 */
export class TransactionGuard {
  readonly #store = new AsyncLocalStorage<Hold>();

  /** Throws when called from inside a transaction callback that is still running. */
  check(service: string): void {
    if (this.#store.getStore()?.active) {
      throw kitErrors.create(
        "KIT_ERR_INTERNAL",
        `${service}: database call made inside a transaction callback; use the transaction's handle (tx) instead`,
      );
    }
  }

  /** Runs `fn` marked as a transaction callback; the mark ends with it, even for work it left running. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const hold: Hold = { active: true };
    try {
      return await this.#store.run(hold, fn);
    } finally {
      hold.active = false;
    }
  }
}

/** A transaction's handle that refuses use once its transaction has ended. */
export function scopedQueryable(target: Queryable, service: string): { tx: Queryable; end: () => void } {
  let ended = false;
  const check = () => {
    if (ended) throw kitErrors.create("KIT_ERR_INTERNAL", `${service}: transaction handle used after its transaction ended`);
  };
  const tx: Queryable = {
    query: async (sql, params) => {
      check();
      return target.query(sql, params);
    },
    exec: async (sql) => {
      check();
      return target.exec(sql);
    },
  };
  return { tx, end: () => (ended = true) };
}
