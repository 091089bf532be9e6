// Login CSRF: the hosted sign-in form must be posted from the sign-in page
// itself, never from another site. Browsers say where a POST comes from in
// `Origin` (and `Sec-Fetch-Site`); the gateway forwards both as call metadata
// (it forwards no cookies, so this check needs none).
import type { Metadata } from "@flotilla/kit";

export type OriginCheck = { ok: true } | { ok: false; reason: string };

/**
 * Accepts a POST whose Origin is the issuer's origin; with no Origin at all,
 * one whose Sec-Fetch-Site is `same-origin` or `none` (the user's own action).
 * Everything else is refused, `Origin: null` (sandboxed or privacy-stripped
 * posts) and requests that say nothing about their origin included.
 */
export function checkSameOrigin(metadata: Metadata, issuerOrigin: string): OriginCheck {
  const origin = metadata.origin;
  if (origin !== undefined) {
    return origin === issuerOrigin ? { ok: true } : { ok: false, reason: `the form was posted from ${origin === "null" ? "an opaque origin" : "another origin"}` };
  }
  const site = metadata["sec-fetch-site"];
  if (site === "same-origin" || site === "none") return { ok: true };
  return { ok: false, reason: site === undefined ? "the request does not say where it comes from" : `the form was posted from a ${site} page` };
}
