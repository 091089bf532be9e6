import type { IncomingMessage, RequestListener } from "node:http";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { CertSource } from "./cert-source.ts";
import type { ServiceCredentials } from "./issuer.ts";
import { serviceOfPeerCertificate } from "./spiffe.ts";

/**
 * TLS settings of a service's server: its certificate, and client certificates
 * REQUIRED and verified against the platform CA only (not the system roots), so
 * a peer without one, or with one from another CA, fails the handshake.
 */
export function mtlsServerOptions(credentials: ServiceCredentials) {
  return { cert: credentials.cert, key: credentials.key, ca: credentials.ca, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.3" as const };
}

/** An HTTPS server requiring client certificates; renewed certificates apply to new handshakes without a restart. */
export function createMtlsServer(source: CertSource, listener: RequestListener): Server {
  const server = createServer(mtlsServerOptions(source.current()), listener);
  const stop = source.onRenew((credentials) => server.setSecureContext(mtlsServerOptions(credentials)));
  server.on("close", stop);
  return server;
}

const callers = new WeakMap<Socket, string | null>();

/**
 * The calling service, from the verified client certificate of the request's
 * connection (once per connection), or undefined on a plain or unverified one.
 * Never from a header: metadata is the caller's word, the certificate is proof.
 */
export function callerOfRequest(req: IncomingMessage): string | undefined {
  const socket = req.socket as TLSSocket;
  let caller = callers.get(socket);
  if (caller === undefined) {
    caller = socket.encrypted && socket.authorized ? (serviceOfPeerCertificate(socket.getPeerCertificate()) ?? null) : null;
    callers.set(socket, caller);
  }
  return caller ?? undefined;
}
