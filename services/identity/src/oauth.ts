// The token endpoint's grants (RFC 6749, OAuth 2.1): password for first-party
// clients, refresh_token with rotation and family revocation on reuse,
// client_credentials, authorization_code with PKCE S256.
import { timingSafeEqual } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { identityEventsV1, type identityV1 } from "@flotilla/contracts";
import type { CallContext } from "@flotilla/kit";
import { createEvent } from "@flotilla/kit/internal";
import { authenticate, loadAccount } from "./accounts.ts";
import { clientIpOf } from "./caller.ts";
import type { IdentityDeps } from "./deps.ts";
import { grantScopes, hashSecret, newSecret, newSessionId, parseScope } from "./domain.ts";
import { identityErrors } from "./errors.ts";
import { verifyPkce } from "./pkce.ts";
import * as sessions from "./sessions.ts";
import * as store from "./store.ts";

type TokenInit = Omit<identityV1.TokenResponse, "$typeName" | "$unknown">;

const invalidRequest = (why: string) => identityErrors.create("IDENTITY_ERR_INVALID_REQUEST", why);
const invalidGrant = (why: string) => identityErrors.create("IDENTITY_ERR_INVALID_GRANT", why);

/**
 * Identifies the client: HTTP Basic (client_secret_basic, RFC 6749 2.3.1, the
 * gateway forwards the header), or client_id (+ client_secret) in the body.
 * Confidential clients must prove their secret; public ones only name
 * themselves. Every failure is invalid_client.
 */
export async function authenticateClient(d: IdentityDeps, ctx: CallContext, body: { clientId: string; clientSecret: string }): Promise<store.ClientRow> {
  let clientId = body.clientId;
  let secret = body.clientSecret;
  const basic = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(ctx.metadata.authorization?.trim() ?? "");
  if (basic !== null) {
    const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0 || (clientId !== "" && secret !== "")) throw identityErrors.create("IDENTITY_ERR_INVALID_CLIENT", "malformed client authentication");
    const formDecode = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
    try {
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw identityErrors.create("IDENTITY_ERR_INVALID_CLIENT", "malformed client authentication");
    }
  }
  if (clientId === "") throw identityErrors.create("IDENTITY_ERR_INVALID_CLIENT", "the client is not identified");
  const client = await store.findClient(d.db, clientId);
  const fail = () => identityErrors.create("IDENTITY_ERR_INVALID_CLIENT", "unknown client or wrong client credentials");
  if (client === undefined) throw fail();
  if (client.confidential) {
    if (secret === "" || client.secret_hash === null) throw fail();
    const given = Buffer.from(hashSecret(secret));
    const expected = Buffer.from(client.secret_hash);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw fail();
  } else if (secret !== "") {
    throw fail();
  }
  return client;
}

function allowGrant(client: store.ClientRow, grant: string): void {
  if (!client.grant_types.includes(grant)) throw identityErrors.create("IDENTITY_ERR_UNAUTHORIZED_CLIENT", `this client may not use the ${grant} grant`);
}

export async function token(d: IdentityDeps, req: identityV1.TokenRequest, ctx: CallContext): Promise<TokenInit> {
  if (req.grantType === "") throw invalidRequest("grant_type is required");
  const known = ["password", "refresh_token", "client_credentials", "authorization_code"];
  if (!known.includes(req.grantType)) throw identityErrors.create("IDENTITY_ERR_UNSUPPORTED_GRANT_TYPE", `grant_type ${JSON.stringify(req.grantType.slice(0, 40))} is not supported`);
  const client = await authenticateClient(d, ctx, { clientId: req.clientId, clientSecret: req.clientSecret });
  allowGrant(client, req.grantType);
  switch (req.grantType) {
    case "password":
      return passwordGrant(d, client, req, ctx);
    case "refresh_token":
      return refreshGrant(d, client, req);
    case "client_credentials":
      return clientCredentialsGrant(d, client, req);
    default:
      return codeGrant(d, client, req, ctx);
  }
}

async function passwordGrant(d: IdentityDeps, client: store.ClientRow, req: identityV1.TokenRequest, ctx: CallContext): Promise<TokenInit> {
  // OAuth 2.1 dropped this grant; we keep it for our own apps only.
  if (!client.first_party) throw identityErrors.create("IDENTITY_ERR_UNAUTHORIZED_CLIENT", "the password grant is for first-party clients only");
  if (req.username === "" || req.password === "") throw invalidRequest("username and password are required");
  const scopes = scopesFor(client, req.scope);
  const accountId = await authenticate(d, req.username, req.password, clientIpOf(ctx));
  return issueForUser(d, client, accountId, scopes, { deviceName: req.deviceName, userAgent: ctx.metadata["user-agent"] ?? "", nonce: "" });
}

function scopesFor(client: store.ClientRow, requested: string): string[] {
  const granted = grantScopes(requested, client.scopes);
  if (!granted.ok) throw identityErrors.create("IDENTITY_ERR_INVALID_SCOPE", granted.reason);
  return granted.scopes;
}

/** Access token, ID token (scope openid) and, when the client may refresh, a new session with its first refresh token. */
export async function issueForUser(
  d: IdentityDeps,
  client: store.ClientRow,
  accountId: string,
  scopes: string[],
  extra: { deviceName: string; userAgent: string; nonce: string; sessionId?: string },
): Promise<TokenInit & { sessionId?: string }> {
  const now = d.now();
  let sessionId: string | undefined;
  let refreshToken: string | undefined;
  if (client.grant_types.includes("refresh_token")) {
    sessionId = newSessionId();
    refreshToken = newSecret("rt");
    const expiresAt = new Date(now.getTime() + d.config.refreshTokenTtlSec * 1000);
    await d.db.transaction(async (tx) => {
      await sessions.insertSession(tx, {
        sessionId: sessionId!,
        accountId,
        clientId: client.client_id,
        scope: scopes.join(" "),
        deviceName: extra.deviceName,
        userAgent: extra.userAgent.slice(0, 256),
        now,
        expiresAt,
      });
      await sessions.insertRefreshToken(tx, hashSecret(refreshToken!), sessionId!, now);
    });
  }
  const out = await accessFor(d, client.client_id, accountId, scopes, sessionId);
  if (refreshToken !== undefined) out.refreshToken = refreshToken;
  if (scopes.includes("openid")) {
    const account = await loadAccount(d, accountId);
    out.idToken = await d.tokens.idToken({
      sub: accountId,
      clientId: client.client_id,
      nonce: extra.nonce,
      authTime: Math.floor(now.getTime() / 1000),
      ...(scopes.includes("email") ? { email: account.email } : {}),
      ...(scopes.includes("profile") && account.displayName !== "" ? { name: account.displayName } : {}),
    });
  }
  return sessionId === undefined ? out : { ...out, sessionId };
}

async function accessFor(d: IdentityDeps, clientId: string, accountId: string, scopes: string[], sid: string | undefined): Promise<TokenInit> {
  const { roles, permissions } = await store.rolesOf(d.db, accountId);
  const accessToken = await d.tokens.accessToken({ sub: accountId, clientId, scope: scopes, roles, permissions, ...(sid === undefined ? {} : { sid }) });
  return { accessToken, tokenType: "Bearer", expiresIn: d.config.accessTokenTtlSec, scope: scopes.join(" ") };
}

/**
 * Rotation on every use (RFC 9700 4.14.2): the presented token is marked
 * rotated and a new one of the same family issued. A rotated token presented
 * again means it leaked (or the app raced itself): the whole family — the
 * session — is revoked, so the thief's copy dies too, and invalid_grant.
 */
async function refreshGrant(d: IdentityDeps, client: store.ClientRow, req: identityV1.TokenRequest): Promise<TokenInit> {
  if (req.refreshToken === "") throw invalidRequest("refresh_token is required");
  const hash = hashSecret(req.refreshToken);
  const now = d.now();
  const next = newSecret("rt");
  const outcome = await d.db.transaction(async (tx) => {
    const found = await sessions.lockRefreshToken(tx, hash);
    if (found === undefined) return { kind: "unknown" } as const;
    const { session } = found;
    if (session.client_id !== client.client_id) return { kind: "other-client" } as const;
    if (session.revoked_at !== null) return { kind: "revoked" } as const;
    if (new Date(session.expires_at) <= now) return { kind: "expired" } as const;
    if (found.rotated_at !== null) {
      await sessions.revokeSession(tx, session.session_id, now);
      const event = create(identityEventsV1.RefreshTokenReusedSchema, { accountId: session.account_id, sessionId: session.session_id, clientId: client.client_id });
      await d.outbox.enqueue(tx, [createEvent(identityEventsV1.RefreshTokenReusedSchema, event, { source: d.source, subject: session.account_id })]);
      return { kind: "reused" } as const;
    }
    await sessions.markRotated(tx, hash, session.session_id, now);
    await sessions.insertRefreshToken(tx, hashSecret(next), session.session_id, now);
    return { kind: "ok", session } as const;
  });
  switch (outcome.kind) {
    case "reused":
      d.log.warn({ client: client.client_id }, "a rotated refresh token was reused: its session was revoked");
      throw invalidGrant("the refresh token was already used; the session is revoked");
    case "ok": {
      const granted = parseScope(outcome.session.scope);
      // A refresh may narrow the scope, never widen it (RFC 6749 6).
      const wanted = req.scope === "" ? granted : parseScope(req.scope);
      if (wanted.some((s) => !granted.includes(s))) throw identityErrors.create("IDENTITY_ERR_INVALID_SCOPE", "a refresh cannot widen the scope");
      const out = await accessFor(d, client.client_id, outcome.session.account_id, wanted, outcome.session.session_id);
      out.refreshToken = next;
      return out;
    }
    default:
      throw invalidGrant("the refresh token is invalid, expired or revoked");
  }
}

async function clientCredentialsGrant(d: IdentityDeps, client: store.ClientRow, req: identityV1.TokenRequest): Promise<TokenInit> {
  if (!client.confidential) throw identityErrors.create("IDENTITY_ERR_UNAUTHORIZED_CLIENT", "client_credentials is for confidential clients");
  const scopes = scopesFor(client, req.scope);
  // A service account: subject is the client itself, its permissions are the client's own.
  const accessToken = await d.tokens.accessToken({ sub: client.client_id, clientId: client.client_id, scope: scopes, roles: [], permissions: client.permissions });
  return { accessToken, tokenType: "Bearer", expiresIn: d.config.accessTokenTtlSec, scope: scopes.join(" ") };
}

/**
 * RFC 6749 4.1.3 + RFC 7636: the code is single-use, bound to its client and
 * its exact redirect_uri, and to the PKCE challenge. A code presented twice
 * revokes the session the first exchange created (RFC 6749 4.1.2).
 */
async function codeGrant(d: IdentityDeps, client: store.ClientRow, req: identityV1.TokenRequest, ctx: CallContext): Promise<TokenInit> {
  if (req.code === "") throw invalidRequest("code is required");
  if (req.codeVerifier === "") throw invalidRequest("code_verifier is required (PKCE)");
  const hash = hashSecret(req.code);
  const now = d.now();
  const code = await d.db.transaction(async (tx) => {
    const row = await sessions.lockCode(tx, hash);
    if (row === undefined) return undefined;
    if (row.used_at !== null) {
      if (row.session_id !== null) await sessions.revokeSession(tx, row.session_id, now);
      return { ...row, reused: true };
    }
    await sessions.markCodeUsed(tx, hash, now);
    return { ...row, reused: false };
  });
  if (code === undefined || code.reused) throw invalidGrant("the authorization code is invalid or was already used");
  if (code.client_id !== client.client_id) throw invalidGrant("the authorization code was issued to another client");
  if (new Date(code.expires_at) <= now) throw invalidGrant("the authorization code has expired");
  if (code.redirect_uri !== req.redirectUri) throw invalidGrant("redirect_uri does not match the authorization request");
  if (!verifyPkce(req.codeVerifier, code.code_challenge)) throw invalidGrant("the code_verifier does not match the code_challenge");
  const out = await issueForUser(d, client, code.account_id, parseScope(code.scope), {
    deviceName: req.deviceName,
    userAgent: ctx.metadata["user-agent"] ?? "",
    nonce: code.nonce,
  });
  if (out.sessionId !== undefined) await sessions.linkCodeToSession(d.db, hash, out.sessionId);
  const { sessionId: _, ...response } = out;
  return response;
}
