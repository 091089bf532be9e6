import { FlotillaError, kitErrors } from "../errors/index.ts";

// Socket errors and the client's own codes for a connection that failed or went away.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);
// Server states that pass: shutting down, starting up, out of connection slots.
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** True for an error that means the server could not be reached or dropped the connection. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  // SQLSTATE class 08: connection exception.
  return CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08");
}

/**
 * Connection failures become KIT_ERR_DB_UNAVAILABLE (retryable); SQL errors
 * pass through untouched so that a service can still test `code === "23505"`.
 */
export function fromPostgresError(error: unknown, what: string): unknown {
  if (error instanceof FlotillaError || !isConnectionError(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return kitErrors.create("KIT_ERR_DB_UNAVAILABLE", `${what}: ${detail}`, { cause: error });
}
