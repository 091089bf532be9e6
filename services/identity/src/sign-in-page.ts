// The hosted sign-in page of the authorization endpoint: one small HTML form,
// no script, no external resource, framing forbidden (clickjacking).
import { create } from "@bufbuild/protobuf";
import { optionsV1 } from "@flotilla/contracts";

export const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
} as const;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The authorization request's parameters carried through the form as hidden fields. */
export type CarriedParams = Record<"response_type" | "client_id" | "redirect_uri" | "scope" | "state" | "code_challenge" | "code_challenge_method" | "nonce", string>;

export function signInPage(params: CarriedParams, options: { error?: string; email?: string; status?: number } = {}): optionsV1.HttpResponse {
  const hidden = Object.entries(params)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v)}">`)
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
    headers: { ...PAGE_HEADERS },
  });
}

/** A page for errors that must not redirect (unknown client, unregistered redirect_uri: RFC 6749 4.1.2.1). */
export function errorPage(message: string): optionsV1.HttpResponse {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body><h1>Cannot sign in</h1><p>${escapeHtml(message)}</p></body></html>\n`;
  return create(optionsV1.HttpResponseSchema, { status: 400, contentType: "text/html; charset=utf-8", body: new TextEncoder().encode(html), headers: { ...PAGE_HEADERS } });
}

export function redirect(location: string): optionsV1.HttpResponse {
  return create(optionsV1.HttpResponseSchema, { status: 302, location, headers: { "cache-control": "no-store" } });
}
