// The sign-in form's token: an HMAC over the authorization request's
// parameters and an expiry, so a form is good for ten minutes and for the
// client, redirect_uri, PKCE challenge, state and nonce it was shown for —
// never replayed for another. Stateless (nothing stored), shared by replicas:
// the key is derived from the master key (the field cipher's KeyProvider).
//
//   const forms = formTokens({ key: keys.indexKey(FORM_TOKEN_DOMAIN), now });
//   const token = forms.issue(params);          // a hidden field of the page
//   forms.check(token, params) === "ok";        // on the POST
import { createHmac, timingSafeEqual } from "node:crypto";

/** The HKDF domain of the form-token key (a key of its own, not the blind index's). */
export const FORM_TOKEN_DOMAIN = "identity.sign-in.form-token.v1";
export const FORM_TOKEN_TTL_MS = 10 * 60_000;

/** Why a token is refused; `ok` when it is good. */
export type FormTokenCheck = "ok" | "missing" | "malformed" | "expired" | "mismatch";

/** The authorization request parameters the token is bound to, in a fixed order. */
export const BOUND_PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "nonce"] as const;
export type BoundParams = Record<(typeof BOUND_PARAMS)[number], string>;

const TOKEN = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export interface FormTokens {
  issue(params: BoundParams): string;
  check(token: string, params: BoundParams): FormTokenCheck;
}

export function formTokens(options: { key: Uint8Array; now: () => Date; ttlMs?: number }): FormTokens {
  const ttlMs = options.ttlMs ?? FORM_TOKEN_TTL_MS;
  // A JSON array of strings is unambiguous: no value can shift into its neighbour.
  const mac = (expires: string, params: BoundParams) =>
    createHmac("sha256", options.key)
      .update(`v1\n${expires}\n${JSON.stringify(BOUND_PARAMS.map((k) => params[k]))}`)
      .digest();
  return {
    issue(params) {
      const expires = String(Math.floor((options.now().getTime() + ttlMs) / 1000));
      return `v1.${expires}.${mac(expires, params).toString("base64url")}`;
    },
    check(token, params) {
      if (token === "") return "missing";
      const m = TOKEN.exec(token);
      if (m === null) return "malformed";
      const [, expires, given] = m as unknown as [string, string, string];
      const expected = mac(expires, params);
      // The MAC first: an altered expiry is a mismatch, not a chance to probe the clock.
      if (!timingSafeEqual(Buffer.from(given, "base64url"), expected)) return "mismatch";
      return Number(expires) * 1000 > options.now().getTime() ? "ok" : "expired";
    },
  };
}
