// `Idempotency-Key` on POST, PUT and PATCH (draft-ietf-httpapi-idempotency-key-header):
// mobile apps retry on flaky networks, and a retry must not book twice. The
// first response for a key is stored and replayed (with `Idempotent-Replayed:
// true`) to retries from the same caller with the same body for `ttlSec`; the
// same key with another body or route is a 422, and a retry while the first
// request still runs is a 409.
//
//   plugins: [auth, rateLimit(...), idempotency({ store: new RedisIdempotencyStore({ redis }), settings: () => config.current.idempotency })]
//
// Only answers a retry could not change are stored: a 5xx, 429 or 409 frees
// the key so the retry runs again. Answers marked `Cache-Control: no-store`
// (OAuth token responses) and raw byte bodies are never stored.
import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { gatewayErrors } from "../errors.ts";
import type { GatewayPlugin } from "../types.ts";
import { callerKey, callerOf } from "./caller.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";
import { sendProblem } from "./send-problem.ts";

export interface IdempotencySettings {
  /** How long a response is replayed. @default 86400 (24 h) */
  readonly ttlSec: number;
  /** How long a claim holds if the gateway running it dies; longer than the request timeout. @default 60 */
  readonly lockSec: number;
}

export const defaultIdempotency: IdempotencySettings = { ttlSec: 86_400, lockSec: 60 };

export interface IdempotencyOptions {
  readonly store: IdempotencyStore;
  readonly settings?: () => IdempotencySettings;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH"]);
// Printable ASCII, as the draft's examples; long enough for a UUID or ULID with a prefix.
const KEY = /^[\x21-\x7e]{1,255}$/;
const RETRYABLE = (status: number) => status >= 500 || status === 429 || status === 409;

interface Claim {
  readonly key: string;
  readonly token: string;
  readonly fingerprint: string;
}

export function idempotency(options: IdempotencyOptions): GatewayPlugin {
  const settings = options.settings ?? (() => defaultIdempotency);
  const claims = new WeakMap<FastifyRequest, Claim>();
  const { store } = options;

  /** A keyed unsafe request: claims its key (false: go on) or answers a replay or conflict (true). */
  const begin = async (request: FastifyRequest, reply: FastifyReply, header: string): Promise<boolean> => {
    // Keys are per caller: one user's key never replays another user's response.
    const key = sha256(`${callerKey(callerOf(request))}\n${header}`);
    const fingerprint = sha256(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`);
    const { lockSec } = settings();
    const found = await store.begin(key, fingerprint, lockSec * 1000);
    if (found.state === "started") {
      claims.set(request, { key, token: found.token, fingerprint });
      return false;
    }
    if (found.fingerprint !== fingerprint) {
      sendProblem(request, reply, gatewayErrors.create("GW_ERR_IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request; use a new key for a new request"));
      return true;
    }
    if (found.state === "running") {
      sendProblem(request, reply, gatewayErrors.create("GW_ERR_IDEMPOTENCY_IN_PROGRESS", "a request with this Idempotency-Key is still running; retry shortly for its response"));
      return true;
    }
    const { response } = found;
    reply.code(response.status).header("idempotent-replayed", "true");
    if (response.contentType !== undefined) reply.type(response.contentType);
    reply.send(response.body);
    return true;
  };

  const finish = async (request: FastifyRequest, reply: FastifyReply, payload: unknown, claim: Claim): Promise<void> => {
    const status = reply.statusCode;
    // Raw bodies (bytes, streams) and `no-store` answers (tokens) are never kept: the key is freed instead.
    const body = typeof payload === "string" ? payload : undefined;
    const noStore = String(reply.getHeader("cache-control") ?? "").includes("no-store");
    try {
      if (RETRYABLE(status) || body === undefined || noStore) await store.release(claim.key, claim.token);
      else {
        const contentType = reply.getHeader("content-type");
        const response = { status, contentType: typeof contentType === "string" ? contentType : undefined, body };
        await store.complete(claim.key, claim.token, claim.fingerprint, response, settings().ttlSec * 1000);
      }
    } catch (error) {
      // The response itself is fine; only its replay is lost (the claim expires after lockSec).
      request.log.warn({ err: error }, "could not store the idempotent response");
    }
  };

  // Callback-style hooks: requests without a key (most of them) go on at once, with no promise.
  return (api) => {
    api.addHook("preHandler", (request, reply, done) => {
      const header = request.headers["idempotency-key"];
      if (header === undefined || !UNSAFE.has(request.method) || request.routeMeta === null) return done();
      if (typeof header !== "string" || !KEY.test(header)) {
        return done(gatewayErrors.create("GW_ERR_IDEMPOTENCY_KEY_INVALID", "the Idempotency-Key header must be 1 to 255 printable ASCII characters, sent once"));
      }
      begin(request, reply, header).then((answered) => {
        if (!answered) done();
      }, done);
    });

    api.addHook("onSend", (request, reply, payload, done) => {
      const claim = claims.get(request);
      if (claim === undefined) return done(null, payload);
      claims.delete(request);
      finish(request, reply, payload, claim).then(() => done(null, payload), done);
    });

    // A request that ends without a response (the client went away before it was sent) frees its key.
    api.addHook("onResponse", (request, _reply, done) => {
      const claim = claims.get(request);
      if (claim === undefined) return done();
      claims.delete(request);
      store.release(claim.key, claim.token).then(
        () => done(),
        () => done(),
      );
    });
  };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}
