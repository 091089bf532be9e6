/** `CODE: message` for coded errors (FlotillaError, PostgreSQL's SQLSTATE), the message otherwise: what goes into `last_error` / `error` columns. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
