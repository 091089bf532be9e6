// The hosted sign-in page of the authorization endpoint: one small HTML form,
// no script, no external resource, framing forbidden (clickjacking).
import { create } from "@bufbuild/protobuf";
import { optionsV1 } from "@flotilla/contracts";
import type { BoundParams } from "./form-token.ts";

export const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  // Not `no-referrer`: under it browsers send `Origin: null` with the form's
  // POST, and the sign-in refuses posts it cannot place (login CSRF). Other
  // sites (the redirect to the client included) still get no Referer.
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
} as const;

/**
 * The sign-in page's CSP. Browsers apply `form-action` to every redirect the
 * post leads to, so the 302 back to the client (its registered redirect_uri)
 * must be allowed too, else the sign-in succeeds and the browser blocks the
 * way back: its origin for http(s), its scheme for an app's private-use one.
 */
export function signInCsp(redirectUri: string): string {
  let back = "";
  try {
    const url = new URL(redirectUri);
    if (url.protocol === "http:" || url.protocol === "https:") back = ` ${url.origin}`;
    else if (/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) back = ` ${url.protocol}`;
  } catch {
    // not a URL: only 'self' (check() has refused it before a page is shown)
  }
  return PAGE_HEADERS["content-security-policy"].replace("form-action 'self'", `form-action 'self'${back}`);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The authorization request's parameters carried through the form as hidden fields. */
export type CarriedParams = BoundParams;

/** The page; `formToken` (form-token.ts) travels with the parameters it is bound to. */
export function signInPage(params: CarriedParams, formToken: string, options: { error?: string; email?: string; status?: number } = {}): optionsV1.HttpResponse {
  const hidden = [...Object.entries(params), ["form_token", formToken]]
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v ?? "")}">`)
    .join("\n      ");
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Sign in</title>
    <style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;width:100%;box-sizing:border-box}input{margin:.25rem 0 1rem;padding:.5rem}button{padding:.6rem}.error{color:#b00020}</style>
  </head>
  <body>
    <h1>Sign in</h1>
    <p>to continue to <strong>${escapeHtml(params.client_id)}</strong></p>
    ${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ""}
    <form method="post" action="/oauth2/authorize">
      ${hidden}
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(options.email ?? "")}">
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
    </form>
  </body>
</html>
`;
  return create(optionsV1.HttpResponseSchema, {
    status: options.status ?? 200,
    contentType: "text/html; charset=utf-8",
    body: new TextEncoder().encode(html),
    headers: { ...PAGE_HEADERS, "content-security-policy": signInCsp(params.redirect_uri) },
  });
}

/**
 * A page for errors that must not redirect: unknown client, unregistered
 * redirect_uri (RFC 6749 4.1.2.1), a cross-site post or a bad form token.
 */
export function errorPage(message: string, status = 400): optionsV1.HttpResponse {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><h1>Cannot sign in</h1><p>${escapeHtml(message)}</p></body></html>\n`;
  return create(optionsV1.HttpResponseSchema, { status, contentType: "text/html; charset=utf-8", body: new TextEncoder().encode(html), headers: { ...PAGE_HEADERS } });
}

export function redirect(location: string): optionsV1.HttpResponse {
  return create(optionsV1.HttpResponseSchema, { status: 302, location, headers: { "cache-control": "no-store" } });
}
