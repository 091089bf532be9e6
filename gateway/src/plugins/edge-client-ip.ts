// The client's address as the services and the rate limits see it. The peer
// address is the truth unless the peer is one of our own proxies; only then is
// X-Forwarded-For read, right to left, skipping our proxies: the first address
// not ours is the client (anything left of it was written by the client and
// may be forged).
import { isIP } from "node:net";

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
export function normalizeIp(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function clientIpOf(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: ReadonlySet<string>): string {
  const direct = normalizeIp(peer ?? "");
  if (!trusted.has(direct) || forwardedFor === undefined) return direct;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",").map((hop) => normalizeIp(hop.trim()));
  let client = direct;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // A malformed entry ends the chain: nothing left of it can be believed.
    if (isIP(hop) === 0) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
