// Identity's contract handlers: decode intent, check the caller, delegate.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { identityEventsV1, type identityV1 } from "@flotilla/contracts";
import { FlotillaError, type Queryable, type ServiceHandlers } from "@flotilla/kit";
import { createEvent } from "@flotilla/kit/internal";
import { createAccount, loadAccount, updateProfile } from "./accounts.ts";
import { AUDIENCE } from "./access-tokens.ts";
import { showSignIn, submitSignIn } from "./authorize.ts";
import { callerOf, userOf, verifyAccessToken } from "./caller.ts";
import type { IdentityDeps } from "./deps.ts";
import { hashSecret, newSecret } from "./domain.ts";
import { identityErrors } from "./errors.ts";
import { authenticateClient, token } from "./oauth.ts";
import * as sessions from "./sessions.ts";
import * as store from "./store.ts";

type Handlers = ServiceHandlers<typeof identityV1.IdentityService>;

export function identityHandlers(d: IdentityDeps): Handlers {
  const base = d.config.publicUrl;
  return {
    async createAccount(req) {
      const accountId = await createAccount(d, { email: req.email, password: req.password, displayName: req.displayName });
      return { account: await loadAccount(d, accountId) };
    },

    async getMe(_req, ctx) {
      const me = await userOf(d, ctx);
      return { account: await loadAccount(d, me.sub) };
    },

    async updateMe(req, ctx) {
      const me = await userOf(d, ctx);
      await updateProfile(d, me.sub, { displayName: req.displayName, phone: req.phone });
      return { account: await loadAccount(d, me.sub) };
    },

    async listMySessions(_req, ctx) {
      const me = await userOf(d, ctx);
      const rows = await sessions.liveSessions(d.db, me.sub, d.now());
      return {
        sessions: rows.map((s) => ({
          sessionId: s.session_id,
          clientId: s.client_id,
          deviceName: s.device_name,
          userAgent: s.user_agent,
          createdAt: timestampFromDate(new Date(s.created_at)),
          lastUsedAt: timestampFromDate(new Date(s.last_used_at)),
          current: s.session_id === me.sid,
        })),
      };
    },

    async revokeMySession(req, ctx) {
      const me = await userOf(d, ctx);
      const session = await sessions.findSession(d.db, req.sessionId);
      // Another user's session answers exactly like a missing one: ids are not confirmed to strangers.
      if (session === undefined || session.account_id !== me.sub) {
        throw identityErrors.create("IDENTITY_ERR_SESSION_NOT_FOUND", "you have no session with this id");
      }
      await sessions.revokeSession(d.db, session.session_id, d.now());
      return {};
    },

    async revokeOtherSessions(_req, ctx) {
      const me = await userOf(d, ctx);
      return { revoked: await sessions.revokeOtherSessions(d.db, me.sub, me.sid ?? "", d.now()) };
    },

    async getJwks() {
      return { keys: (await d.keys.jwks()).map((k) => ({ kty: k.kty ?? "", crv: k.crv ?? "", x: k.x ?? "", y: k.y ?? "", kid: k.kid, use: "sig", alg: "ES256" })) };
    },

    async getOpenIdConfiguration() {
      return {
        issuer: base,
        authorizationEndpoint: `${base}/oauth2/authorize`,
        tokenEndpoint: `${base}/oauth2/token`,
        jwksUri: `${base}/.well-known/jwks.json`,
        userinfoEndpoint: `${base}/oauth2/userinfo`,
        revocationEndpoint: `${base}/oauth2/revoke`,
        introspectionEndpoint: `${base}/oauth2/introspect`,
        responseTypesSupported: ["code"],
        responseModesSupported: ["query"],
        grantTypesSupported: ["authorization_code", "refresh_token", "client_credentials", "password"],
        codeChallengeMethodsSupported: ["S256"],
        tokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
        scopesSupported: ["openid", "profile", "email", "phone", "offline_access"],
        subjectTypesSupported: ["public"],
        idTokenSigningAlgValuesSupported: ["ES256"],
      };
    },

    async token(req, ctx) {
      return token(d, req, ctx);
    },

    /**
     * RFC 7009: the client authenticates; a refresh token revokes its whole
     * session, an access token is denied until it expires. Unknown tokens and
     * tokens of other clients answer 200 too (2.2: nothing to tell the caller).
     */
    async revoke(req, ctx) {
      const client = await authenticateClient(d, ctx, { clientId: req.clientId, clientSecret: req.clientSecret });
      if (req.token === "") throw identityErrors.create("IDENTITY_ERR_INVALID_REQUEST", "token is required");
      const hint = req.tokenTypeHint;
      if (hint !== "" && hint !== "refresh_token" && hint !== "access_token") {
        throw identityErrors.create("IDENTITY_ERR_UNSUPPORTED_TOKEN_TYPE", `token_type_hint ${JSON.stringify(hint.slice(0, 40))} is not supported`);
      }
      const session = await sessions.findSessionByRefreshToken(d.db, hashSecret(req.token));
      if (session !== undefined) {
        if (session.client_id === client.client_id) await sessions.revokeSession(d.db, session.session_id, d.now());
        return {};
      }
      try {
        const claims = await d.tokens.verify(req.token);
        if (claims.client_id === client.client_id) await sessions.revokeAccessToken(d.db, claims.jti, new Date(claims.exp * 1000));
      } catch (error) {
        if (!(error instanceof FlotillaError)) throw error;
      }
      return {};
    },

    /** RFC 7662, for confidential clients; anything not valid is just `{"active": false}`. */
    async introspect(req, ctx): Promise<MessageInitShape<typeof identityV1.IntrospectResponseSchema>> {
      const client = await authenticateClient(d, ctx, { clientId: req.clientId, clientSecret: req.clientSecret });
      if (!client.confidential) throw identityErrors.create("IDENTITY_ERR_INVALID_CLIENT", "introspection is for confidential clients");
      if (req.token === "") throw identityErrors.create("IDENTITY_ERR_INVALID_REQUEST", "token is required");
      const session = await sessions.findSessionByRefreshToken(d.db, hashSecret(req.token));
      if (session !== undefined) {
        const live = session.revoked_at === null && new Date(session.expires_at) > d.now();
        // A rotated refresh token is spent: presenting it again would revoke the session.
        if (!live || !(await sessions.isCurrentRefreshToken(d.db, hashSecret(req.token)))) return { active: false };
        return {
          active: true,
          scope: session.scope,
          clientId: session.client_id,
          sub: session.account_id,
          tokenType: "refresh_token",
          exp: Math.floor(new Date(session.expires_at).getTime() / 1000),
          iss: base,
          sid: session.session_id,
        };
      }
      try {
        const claims = await verifyAccessToken(d, req.token);
        return { active: true, scope: claims.scope, clientId: claims.client_id, sub: claims.sub, tokenType: "Bearer", exp: claims.exp, iat: claims.iat, iss: base, aud: AUDIENCE, ...(claims.sid ? { sid: claims.sid } : {}) };
      } catch (error) {
        if (error instanceof FlotillaError) return { active: false };
        throw error;
      }
    },

    /** OpenID Connect Core 5.3: claims by scope. */
    async userInfo(_req, ctx) {
      const me = await userOf(d, ctx);
      const scopes = me.scope.split(" ");
      if (!scopes.includes("openid")) throw identityErrors.create("IDENTITY_ERR_FORBIDDEN", "userinfo needs the openid scope");
      const account = await loadAccount(d, me.sub);
      return {
        sub: me.sub,
        ...(scopes.includes("email") ? { email: account.email } : {}),
        ...(scopes.includes("profile") && account.displayName !== "" ? { name: account.displayName } : {}),
        ...(scopes.includes("phone") && account.phone !== "" ? { phoneNumber: account.phone } : {}),
      };
    },

    async authorize(req) {
      return { http: await showSignIn(d, req) };
    },

    async submitAuthorize(req, ctx) {
      return { http: await submitSignIn(d, req, ctx) };
    },

    async rotateSigningKey(_req, ctx) {
      await callerOf(d, ctx);
      return { kid: await d.keys.rotate() };
    },

    async putRole(req, ctx) {
      await callerOf(d, ctx);
      await store.putRole(d.db, req.name, req.permissions);
      const role = (await store.listRoles(d.db)).find((r) => r.name === req.name)!;
      return { role };
    },

    async listRoles(_req, ctx) {
      await callerOf(d, ctx);
      return { roles: await store.listRoles(d.db) };
    },

    async assignRole(req, ctx) {
      await callerOf(d, ctx);
      await requireAccountAndRole(d, req.accountId, req.role);
      await changeRoles(d, req.accountId, (tx) => store.assignRole(tx, req.accountId, req.role));
      return { account: await loadAccount(d, req.accountId) };
    },

    async unassignRole(req, ctx) {
      await callerOf(d, ctx);
      await requireAccountAndRole(d, req.accountId, req.role);
      await changeRoles(d, req.accountId, (tx) => store.unassignRole(tx, req.accountId, req.role));
      return { account: await loadAccount(d, req.accountId) };
    },

    async createClient(req, ctx) {
      await callerOf(d, ctx);
      if (!req.confidential && req.grantTypes.includes("client_credentials")) {
        throw identityErrors.create("IDENTITY_ERR_INVALID_REQUEST", "a public client cannot use client_credentials");
      }
      if (req.grantTypes.includes("password")) {
        // Only the platform's own apps may collect passwords (seeded, not registered).
        throw identityErrors.create("IDENTITY_ERR_INVALID_REQUEST", "the password grant is reserved for first-party clients");
      }
      if (req.grantTypes.includes("authorization_code") && req.redirectUris.length === 0) {
        throw identityErrors.create("IDENTITY_ERR_INVALID_REQUEST", "the authorization_code grant needs at least one redirect_uri");
      }
      const secret = req.confidential ? newSecret("cs") : "";
      const row: store.ClientRow = {
        client_id: req.clientId,
        secret_hash: req.confidential ? hashSecret(secret) : null,
        confidential: req.confidential,
        first_party: false,
        redirect_uris: req.redirectUris,
        grant_types: req.grantTypes,
        scopes: req.scopes,
        permissions: req.permissions,
      };
      if (!(await store.insertClient(d.db, row))) throw identityErrors.create("IDENTITY_ERR_CLIENT_EXISTS", `client ${req.clientId} already exists`);
      return {
        client: { clientId: row.client_id, confidential: row.confidential, redirectUris: row.redirect_uris, grantTypes: row.grant_types, scopes: row.scopes, permissions: row.permissions },
        clientSecret: secret,
      };
    },
  };
}

/** Applies a role change and publishes the account's roles after it, in one transaction. */
async function changeRoles(d: IdentityDeps, accountId: string, change: (tx: Queryable) => Promise<void>): Promise<void> {
  await d.db.transaction(async (tx) => {
    await change(tx);
    const { roles } = await store.rolesOf(tx, accountId);
    const event = create(identityEventsV1.AccountRolesChangedSchema, { accountId, roles });
    await d.outbox.enqueue(tx, [createEvent(identityEventsV1.AccountRolesChangedSchema, event, { source: d.source, subject: accountId })]);
  });
}

async function requireAccountAndRole(d: IdentityDeps, accountId: string, role: string): Promise<void> {
  if ((await store.findAccount(d.db, accountId)) === undefined) throw identityErrors.create("IDENTITY_ERR_ACCOUNT_NOT_FOUND", `no account ${accountId}`);
  if (!(await store.roleExists(d.db, role))) throw identityErrors.create("IDENTITY_ERR_ROLE_NOT_FOUND", `no role ${role}`);
}

