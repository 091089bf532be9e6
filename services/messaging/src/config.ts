// The messaging service's settings, from the environment, validated at start.
import { int, loadConfig, type Setting, str } from "@flotilla/kit";
import { identityJwks, type Invoke, type JwksSource } from "@flotilla/kit/internal";

function jwksJson(env: string, doc: string): Setting<{ keys: Record<string, unknown>[] } | null> {
  return {
    env,
    doc,
    default: null,
    parse(raw) {
      const value = JSON.parse(raw) as unknown;
      if (typeof value !== "object" || value === null || !Array.isArray((value as { keys?: unknown }).keys)) throw new Error('expected a JWK set: {"keys": [...]}');
      return value as { keys: Record<string, unknown>[] };
    },
  };
}

export const messagingSettings = {
  publicUrl: str("FLOTILLA_PUBLIC_URL", "http://127.0.0.1:8080", "public base URL: the `iss` of access tokens", /^https?:\/\/[^/\s]+(\/[^\s]*[^/\s])?$/),
  jwks: jwksJson("FLOTILLA_AUTH_JWKS", "the token signers' public key set as JSON (pinned keys: tests, an external IdP); absent: FLOTILLA_AUTH_JWKS_URL"),
  jwksUrl: str("FLOTILLA_AUTH_JWKS_URL", "", "an external issuer's JWKS URL; empty: identity's GetJwks method through the invoker", /^https?:\/\/\S+$/),
  pingIntervalMs: int("FLOTILLA_REALTIME_PING_MS", 25_000, "WebSocket heartbeat: a peer that has not answered the previous ping by the next one is closed", { min: 100, max: 600_000 }),
  maxBufferedBytes: int("FLOTILLA_REALTIME_MAX_BUFFERED_BYTES", 1_048_576, "a socket with more unsent bytes than this is a slow consumer and is closed (4008)", { min: 1024, max: 268_435_456 }),
  framesPerSecond: int("FLOTILLA_REALTIME_FRAMES_PER_SEC", 20, "client frames per second a connection may send on average", { min: 1, max: 10_000 }),
  frameBurst: int("FLOTILLA_REALTIME_FRAME_BURST", 60, "client frames a connection may send at once before the rate applies (closed with 4029 beyond)", { min: 1, max: 100_000 }),
  presenceLeaseMs: int(
    "FLOTILLA_REALTIME_PRESENCE_LEASE_MS",
    30_000,
    "a replica renews its presence lease every third of this; once it has not for this long (killed), its users are announced offline",
    { min: 300, max: 600_000 },
  ),
  announceIntervalMs: int(
    "FLOTILLA_MESSAGING_ANNOUNCE_MS",
    60_000,
    "how often to publish the members of conversations not yet announced at their current version (after an upgrade; see announcer.ts)",
    { min: 100, max: 3_600_000 },
  ),
  maxFrameBytes: int("FLOTILLA_REALTIME_MAX_FRAME_BYTES", 16_384, "largest client frame; larger ones close the connection (1009)", { min: 256, max: 1_048_576 }),
};

export type MessagingConfig = ReturnType<typeof loadMessagingConfig>;

export function loadMessagingConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(messagingSettings, env);
}

/**
 * Where the token signers' keys come from: pinned in config, an external
 * issuer's URL, or identity's GetJwks through the chassis invoker (both
 * runtimes), else the gateway's `/.well-known/jwks.json` at the public URL.
 */
export function jwksOf(config: MessagingConfig, invoke: Invoke | undefined): JwksSource {
  const pinned = config.jwks;
  if (pinned) return async () => pinned as never;
  if (config.jwksUrl) return config.jwksUrl;
  return invoke ? identityJwks(invoke) : `${config.publicUrl}/.well-known/jwks.json`;
}
