// Errors in the shape of RFC 6749 section 5.2 for the methods whose contract
// asks for it (`error_style: ERROR_STYLE_OAUTH`): OAuth client libraries read
// `error`, not a problem+json `code`.
import { optionsV1 } from "@flotilla/contracts";
import type { FlotillaError, RpcCode } from "@flotilla/kit";

export interface OAuthErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description?: string };
}

/**
 * The registered error codes (RFC 6749 5.2 and 4.1.2.1, RFC 7009 2.2.1,
 * RFC 6750 3.1). A Flotilla code ending with one of them, upper-cased
 * (`IDENTITY_ERR_INVALID_GRANT`), is answered as that error.
 */
const REGISTERED = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "unsupported_token_type",
  "access_denied",
  "invalid_token",
  "insufficient_scope",
] as const;

/** Otherwise the RPC code decides. */
const BY_RPC: Partial<Record<RpcCode, [string, number]>> = {
  invalid_argument: ["invalid_request", 400],
  failed_precondition: ["invalid_request", 400],
  out_of_range: ["invalid_request", 400],
  not_found: ["invalid_request", 400],
  already_exists: ["invalid_request", 400],
  unauthenticated: ["invalid_token", 401],
  permission_denied: ["insufficient_scope", 403],
  resource_exhausted: ["temporarily_unavailable", 429],
  unavailable: ["temporarily_unavailable", 503],
  deadline_exceeded: ["temporarily_unavailable", 503],
};

// RPC codes whose message may carry internals: the client gets no description.
const HIDDEN: ReadonlySet<RpcCode> = new Set<RpcCode>(["internal", "unknown", "data_loss"]);

export function oauthErrorOf(error: FlotillaError): OAuthErrorResponse {
  const lower = error.code.toLowerCase();
  const registered = REGISTERED.find((e) => lower.endsWith(`_${e}`));
  let code: string;
  let status: number;
  if (registered !== undefined) {
    code = registered;
    status = registered === "invalid_client" || registered === "invalid_token" ? 401 : registered === "insufficient_scope" ? 403 : 400;
  } else {
    [code, status] = BY_RPC[error.rpc] ?? ["server_error", 500];
  }
  // The Cache-Control of RFC 6749 5.1 applies to error responses too.
  const headers: Record<string, string> = { "cache-control": "no-store", pragma: "no-cache" };
  // RFC 6749 5.2: a 401 for invalid_client carries the scheme the client can use.
  if (code === "invalid_client") headers["www-authenticate"] = 'Basic realm="flotilla"';
  if (code === "invalid_token" || code === "insufficient_scope") headers["www-authenticate"] = `Bearer realm="flotilla", error="${code}"`;
  if (status === 429 || status === 503) headers["retry-after"] = "1";
  const description = HIDDEN.has(error.rpc) && registered === undefined ? "" : describe(error.message);
  return { status, headers, body: description === "" ? { error: code } : { error: code, error_description: description } };
}

/** RFC 6749 5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E (printable ASCII without `"` and `\`). */
export function describe(message: string): string {
  return message
    .normalize("NFKD")
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, "")
    .slice(0, 300);
}

/** Whether the route's contract asks for RFC 6749 errors. */
export function wantsOAuthErrors(http: optionsV1.Http | undefined): boolean {
  return http?.errorStyle === optionsV1.ErrorStyle.OAUTH;
}
