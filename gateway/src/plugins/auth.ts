// Authentication and authorization of every generated API route, before the
// body is parsed or any service is called:
//
//   - `Authorization: Bearer <access token>` is verified (kit's token verifier:
//     ES256 pinned, iss/aud/exp/nbf, JWKS, a cache of verified tokens). Routes
//     not marked `public` in the contract need one: 401 + WWW-Authenticate
//     (RFC 6750) without it. A token sent to a public route is checked too.
//   - `X-Api-Key` names a mobile app (SHA-256 of the key looked up in the
//     config, hot-reloaded; revoked keys refused). It is accepted everywhere and
//     identifies the app for rate limits.
//   - the contract's `access.permissions` must all be in the token's
//     `permissions` claim: else 403 naming the missing ones.
//
// The verified caller lands on `request.auth`; the call metadata carries the
// token on (`authorization`) so the service can verify it again.
import { createHash } from "node:crypto";
import { FlotillaError, kitErrors, type TokenVerifier, type VerifiedToken } from "@flotilla/kit";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppKeyConfig } from "../config.ts";
import { gatewayErrors } from "../errors.ts";
import type { GatewayPlugin, RouteMeta } from "../types.ts";

export interface AuthOptions {
  readonly verifier: TokenVerifier;
  /** Read per request: key changes in the config file apply without a restart. */
  readonly appKeys: () => readonly AppKeyConfig[];
  /** Public routes refuse requests without a valid app key (default false). */
  readonly requireAppKeyOnPublic?: boolean;
  /** The `realm` of `WWW-Authenticate` (default `flotilla`). */
  readonly realm?: string;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const MAX_API_KEY = 256;

type AppEntry = { readonly id: string; readonly platform: string; readonly revoked: boolean };

export function auth(options: AuthOptions): GatewayPlugin {
  const realm = options.realm ?? "flotilla";
  // The key list is indexed by hash once per config version, not per request.
  let indexedFrom: readonly AppKeyConfig[] | undefined;
  let index = new Map<string, AppEntry>();
  const appOf = (key: string): AppEntry | undefined => {
    const list = options.appKeys();
    if (list !== indexedFrom) {
      index = new Map(list.map((k) => [k.sha256, { id: k.id, platform: k.platform, revoked: k.revoked }]));
      indexedFrom = list;
    }
    return index.get(createHash("sha256").update(key).digest("hex"));
  };

  const challenge = (reply: FastifyReply, error?: FlotillaError): void => {
    // RFC 6750 §3: no error code when no credentials were sent.
    // error_description allows printable ASCII but `"` and `\` (RFC 6750 §3); the message may quote a token's kid.
    const description = error?.message.replaceAll('"', "'").replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "?");
    const params = description === undefined ? `realm="${realm}"` : `realm="${realm}", error="invalid_token", error_description="${description}"`;
    reply.header("www-authenticate", `Bearer ${params}`);
  };

  /** The checks after the token (if any) is verified: the error to answer with, or undefined and `request.auth` set. */
  const admit = (request: FastifyRequest, reply: FastifyReply, meta: RouteMeta, app: AppEntry | undefined, token: VerifiedToken | undefined): FlotillaError | undefined => {
    const access = meta.access;
    if (token === undefined && !access.public) {
      challenge(reply);
      return gatewayErrors.create("GW_ERR_UNAUTHENTICATED", "this route needs a bearer access token");
    }
    if (access.public && app === undefined && token === undefined && options.requireAppKeyOnPublic === true) {
      return gatewayErrors.create("GW_ERR_APP_KEY_INVALID", "this route needs an X-Api-Key");
    }
    if (token !== undefined && access.permissions.length > 0) {
      const held = new Set(token.permissions);
      const missing = access.permissions.filter((p) => !held.has(p));
      if (missing.length > 0) return kitErrors.create("KIT_ERR_PERMISSION_DENIED", `the token lacks the permission${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
    }
    request.auth = { sub: token?.subject, token, app: app === undefined ? undefined : { id: app.id, platform: app.platform } };
    return undefined;
  };

  return async (api) => {
    if (!api.hasRequestDecorator("auth")) api.decorateRequest("auth", null);
    // Callback style, like the gateway's other hot-path hooks: the verifier's
    // promise is the only one per request.
    api.addHook("onRequest", (request, reply, done) => {
      const meta = request.routeMeta;
      if (meta === null) return done(); // Not a contract route (CORS preflight).

      let app: AppEntry | undefined;
      const apiKey = request.headers["x-api-key"];
      if (apiKey !== undefined) {
        const key = Array.isArray(apiKey) ? undefined : apiKey;
        app = key === undefined || key.length > MAX_API_KEY ? undefined : appOf(key);
        if (app === undefined || app.revoked) return done(gatewayErrors.create("GW_ERR_APP_KEY_INVALID", "the X-Api-Key is not a valid app key"));
      }

      const header = request.headers.authorization;
      if (header === undefined) return done(admit(request, reply, meta, app, undefined));
      const match = BEARER.exec(header);
      if (match === null) {
        challenge(reply);
        return done(gatewayErrors.create("GW_ERR_UNAUTHENTICATED", "the Authorization header must be `Bearer <access token>`"));
      }
      const bearer = match[1]!;
      options.verifier.verify(bearer).then(
        (token) => {
          let refused: Error | undefined;
          try {
            request.callMetadata.authorization = `Bearer ${bearer}`;
            refused = admit(request, reply, meta, app, token);
          } catch (error) {
            refused = FlotillaError.from(error);
          }
          done(refused);
        },
        (error: unknown) => {
          const known = FlotillaError.from(error);
          if (known.rpc === "unauthenticated") challenge(reply, known);
          done(known);
        },
      );
    });
  };
}
