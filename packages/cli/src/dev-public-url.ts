// The public base URL of `flotilla dev`: identity's issuer (the tokens' `iss`,
// the discovery document, the origin the sign-in page accepts posts from) and
// the issuer the gateway expects. Unless FLOTILLA_PUBLIC_URL says otherwise it
// follows the address dev listens on, so `--port 3000` (or `--port 0`) just works.
import { createServer, type Server } from "node:net";

export interface DevListen {
  /** The port to listen on: the one asked for, or the free one `--port 0` was turned into. */
  port: number;
  /** Frees a port held since it was chosen; call right before the gateway listens. */
  release(): Promise<void>;
}

/**
 * Sets FLOTILLA_PUBLIC_URL from the listen address unless the user set it.
 * The URL must be known before the services and the gateway are built, so
 * `--port 0` is turned into a free port at once, and the port is held (a
 * listening socket: neither a listener nor an outgoing connection can take it)
 * until `release`, so the window for another process is only the gap between
 * release and listen. Losing that race is an EADDRINUSE, never a wrong issuer.
 */
export async function useDevPublicUrl(env: NodeJS.ProcessEnv, host: string, port: number): Promise<DevListen> {
  const none = { port, release: async () => {} };
  if (env.FLOTILLA_PUBLIC_URL) return none;
  if (port !== 0) {
    env.FLOTILLA_PUBLIC_URL = devPublicUrl(host, port);
    return none;
  }
  const holder = await listenOn(host);
  const address = holder.address();
  if (typeof address !== "object" || address === null) throw new Error(`cannot find a free port on ${host}`);
  env.FLOTILLA_PUBLIC_URL = devPublicUrl(host, address.port);
  return { port: address.port, release: () => new Promise((resolve) => holder.close(() => resolve())) };
}

/** `http://<host>:<port>`; a wildcard listen address becomes the loopback one, the address a local client uses. */
export function devPublicUrl(host: string, port: number): string {
  const h = host === "" || host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

function listenOn(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host }, () => resolve(server));
  });
}
