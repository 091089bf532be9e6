// The authorization endpoint (RFC 6749 4.1 with PKCE): GET shows the sign-in
// page, its POST signs in and redirects to the client with a one-time code.
// Errors that cannot be trusted to redirect (unknown client, unregistered
// redirect_uri) are shown on a page; the others go back to the client.
// The POST is refused, on a page, when it comes from another site (login
// CSRF: same-origin.ts) or its form token does not fit the request
// (form-token.ts): only the page identity served, unaltered, signs in.
import type { identityV1, optionsV1 } from "@flotilla/contracts";
import type { CallContext } from "@flotilla/kit";
import { FlotillaError } from "@flotilla/kit";
import { authenticate } from "./accounts.ts";
import { clientIpOf } from "./caller.ts";
import type { IdentityDeps } from "./deps.ts";
import { grantScopes, hashSecret, newSecret, redirectUriAllowed, withQuery } from "./domain.ts";
import { isValidChallenge } from "./pkce.ts";
import { checkSameOrigin } from "./same-origin.ts";
import { insertCode } from "./sessions.ts";
import { type CarriedParams, errorPage, redirect, signInPage } from "./sign-in-page.ts";
import * as store from "./store.ts";

const CODE_TTL_MS = 60_000;

type AuthorizeParams = identityV1.AuthorizeRequest | identityV1.SubmitAuthorizeRequest;

function carried(r: AuthorizeParams): CarriedParams {
  return {
    response_type: r.responseType,
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: r.scope,
    state: r.state,
    code_challenge: r.codeChallenge,
    code_challenge_method: r.codeChallengeMethod,
    nonce: r.nonce,
  };
}

/** Either the checked request, or the response to send instead. */
async function check(d: IdentityDeps, r: AuthorizeParams): Promise<{ client: store.ClientRow; scopes: string[] } | { response: optionsV1.HttpResponse }> {
  const client = r.clientId === "" ? undefined : await store.findClient(d.db, r.clientId);
  if (client === undefined) return { response: errorPage("Unknown client.") };
  if (!redirectUriAllowed(r.redirectUri, client.redirect_uris)) return { response: errorPage("This redirect_uri is not registered for the client.") };
  const back = (error: string, description: string) => ({
    response: redirect(withQuery(r.redirectUri, { error, error_description: description, state: r.state, iss: d.config.publicUrl })),
  });
  if (r.responseType !== "code") return back("unsupported_response_type", "only response_type=code is supported");
  if (!client.grant_types.includes("authorization_code")) return back("unauthorized_client", "this client may not use the authorization code flow");
  // OAuth 2.1: PKCE for every client, S256 only.
  if (r.codeChallenge === "") return back("invalid_request", "code_challenge is required (PKCE)");
  if (r.codeChallengeMethod !== "S256") return back("invalid_request", "code_challenge_method must be S256 (plain is refused)");
  if (!isValidChallenge(r.codeChallenge)) return back("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)");
  const granted = grantScopes(r.scope, client.scopes);
  if (!granted.ok) return back("invalid_scope", granted.reason);
  return { client, scopes: granted.scopes };
}

export async function showSignIn(d: IdentityDeps, r: identityV1.AuthorizeRequest): Promise<optionsV1.HttpResponse> {
  const checked = await check(d, r);
  if ("response" in checked) return checked.response;
  const params = carried(r);
  return signInPage(params, d.forms.issue(params));
}

export async function submitSignIn(d: IdentityDeps, r: identityV1.SubmitAuthorizeRequest, ctx: CallContext): Promise<optionsV1.HttpResponse> {
  // Before anything else, and never a redirect: the post may be an attacker's.
  const origin = checkSameOrigin(ctx.metadata, new URL(d.config.publicUrl).origin);
  if (!origin.ok) {
    d.log.warn({ reason: origin.reason }, "a sign-in post from another site was refused");
    return errorPage("This sign-in was not sent from the sign-in page. Go back to the app and start again.", 403);
  }
  const checked = await check(d, r);
  if ("response" in checked) return checked.response;
  const params = carried(r);
  const form = d.forms.check(r.formToken, params);
  // An expired form gets a fresh one (the same request a GET would show); a missing or altered one, nothing.
  if (form === "expired") return signInPage(params, d.forms.issue(params), { error: "The sign-in form expired. Please sign in again.", email: r.email, status: 400 });
  if (form !== "ok") return errorPage("This sign-in form does not belong to this request. Go back to the app and start again.");
  let accountId: string;
  try {
    accountId = await authenticate(d, r.email, r.password, clientIpOf(ctx));
  } catch (error) {
    if (!(error instanceof FlotillaError)) throw error;
    const tooMany = error.code === "IDENTITY_ERR_TOO_MANY_ATTEMPTS";
    return signInPage(params, d.forms.issue(params), { error: tooMany ? error.message : "The email or password is wrong.", email: r.email, status: tooMany ? 429 : 401 });
  }
  const code = newSecret("ac");
  await insertCode(d.db, {
    codeHash: hashSecret(code),
    clientId: checked.client.client_id,
    accountId,
    redirectUri: r.redirectUri,
    scope: checked.scopes.join(" "),
    nonce: r.nonce,
    codeChallenge: r.codeChallenge,
    expiresAt: new Date(d.now().getTime() + CODE_TTL_MS),
  });
  // RFC 9207: `iss` lets the client detect a mix-up between servers.
  return redirect(withQuery(r.redirectUri, { code, state: r.state, iss: d.config.publicUrl }));
}
