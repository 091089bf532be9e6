import { defineErrors } from "@flotilla/kit";

/**
 * Identity's errors; each is documented in docs/errors.md. Codes that end with
 * an RFC 6749 error (`_INVALID_GRANT`) are answered as that error on the OAuth
 * endpoints (the gateway's OAuth error style).
 */
export const identityErrors = defineErrors({
  IDENTITY_ERR_EMAIL_TAKEN: { rpc: "already_exists", retryable: false, doc: "An account with this email already exists." },
  IDENTITY_ERR_WEAK_PASSWORD: { rpc: "invalid_argument", retryable: false, doc: "The password is too short, too long or on the list of common passwords (NIST SP 800-63B)." },
  IDENTITY_ERR_UNAUTHENTICATED: { rpc: "unauthenticated", retryable: false, doc: "The call needs a valid access token (Authorization: Bearer)." },
  IDENTITY_ERR_INVALID_TOKEN: { rpc: "unauthenticated", retryable: false, doc: "The access token is malformed, expired, revoked or not signed by this issuer." },
  IDENTITY_ERR_FORBIDDEN: { rpc: "permission_denied", retryable: false, doc: "The access token lacks a permission this method requires." },
  IDENTITY_ERR_ACCOUNT_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "No account has this id." },
  IDENTITY_ERR_ROLE_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "No role has this name." },
  IDENTITY_ERR_SESSION_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "The caller has no session with this id." },
  IDENTITY_ERR_CLIENT_EXISTS: { rpc: "already_exists", retryable: false, doc: "A client with this id is already registered." },
  IDENTITY_ERR_INVALID_REQUEST: { rpc: "invalid_argument", retryable: false, doc: "OAuth: a required parameter is missing or a parameter is invalid (RFC 6749 invalid_request)." },
  IDENTITY_ERR_INVALID_CLIENT: { rpc: "unauthenticated", retryable: false, doc: "OAuth: the client is unknown or its authentication failed (RFC 6749 invalid_client)." },
  IDENTITY_ERR_INVALID_GRANT: { rpc: "invalid_argument", retryable: false, doc: "OAuth: the credentials, code or refresh token are invalid, expired, revoked or were issued to another client (RFC 6749 invalid_grant)." },
  IDENTITY_ERR_UNAUTHORIZED_CLIENT: { rpc: "invalid_argument", retryable: false, doc: "OAuth: this client may not use this grant type (RFC 6749 unauthorized_client)." },
  IDENTITY_ERR_UNSUPPORTED_GRANT_TYPE: { rpc: "invalid_argument", retryable: false, doc: "OAuth: the grant type is not supported (RFC 6749 unsupported_grant_type)." },
  IDENTITY_ERR_INVALID_SCOPE: { rpc: "invalid_argument", retryable: false, doc: "OAuth: a requested scope is unknown or not allowed for the client (RFC 6749 invalid_scope)." },
  IDENTITY_ERR_UNSUPPORTED_TOKEN_TYPE: { rpc: "invalid_argument", retryable: false, doc: "OAuth: the server cannot revoke this type of token (RFC 7009 unsupported_token_type)." },
  IDENTITY_ERR_TOO_MANY_ATTEMPTS: { rpc: "resource_exhausted", retryable: true, doc: "Too many failed sign-ins for this account or address: wait before trying again (the password was not checked)." },
});
