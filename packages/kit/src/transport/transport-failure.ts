import { FlotillaError, kitErrors } from "../errors/index.ts";

/**
 * The cause of a KIT_ERR_UNAVAILABLE raised by a transport, saying whether the
 * server may have received the request. A refused connection or an unknown
 * address proves it did not, so even a non-idempotent call can go elsewhere;
 * a connection reset after the request was written proves nothing.
 */
export class TransportFailure extends Error {
  override readonly name = "TransportFailure";
  /** False only when the request surely never reached a handler. */
  readonly maybeDelivered: boolean;
  /** The socket error code, e.g. `ECONNREFUSED`, when there is one. */
  readonly errno: string | undefined;

  constructor(message: string, init: { maybeDelivered: boolean; errno?: string; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.maybeDelivered = init.maybeDelivered;
    this.errno = init.errno;
  }
}

/** A retryable KIT_ERR_UNAVAILABLE carrying a TransportFailure as its cause. */
export function unreachable(message: string, init: { maybeDelivered: boolean; errno?: string; cause?: unknown }): FlotillaError {
  return kitErrors.create("KIT_ERR_UNAVAILABLE", message, { cause: new TransportFailure(message, init) });
}

/**
 * Whether the server may have started handling the call that failed with
 * `error`. Only proof of the contrary returns false: a transport failure before
 * delivery, or a server that refused the call because it was draining.
 */
export function mayHaveBeenDelivered(error: unknown): boolean {
  if (!(error instanceof FlotillaError)) return true;
  if (error.code === "KIT_ERR_DRAINING" || error.code === "KIT_ERR_NO_INSTANCE") return false;
  if (error.code === "KIT_ERR_CIRCUIT_OPEN" || error.code === "KIT_ERR_BULKHEAD_FULL") return false;
  return !(error.cause instanceof TransportFailure && !error.cause.maybeDelivered);
}
