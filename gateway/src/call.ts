// One call to a service: deadline, cancellation when the client goes away,
// and the mapping of whatever the invoker throws to a known error.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { FlotillaError } from "@flotilla/kit";
import type { FastifyReply } from "fastify";
import { gatewayErrors } from "./errors.ts";
import type { Invoke, RouteMeta } from "./types.ts";

export interface CallOptions {
  readonly invoke: Invoke;
  readonly timeoutMs: number;
  readonly metadata: Record<string, string>;
  /** Its `close` event before the response is written means the client went away. */
  readonly reply: FastifyReply;
}

/** Told exactly once: the answer, or the known error the call ended with. */
export type CallDone = (error: FlotillaError | undefined, output: MessageShape<DescMessage> | undefined) => void;

/**
 * Invokes the method and waits at most `timeoutMs`, even when the invoker
 * ignores its signal: the gateway answers 504 on time either way.
 *
 * A callback rather than a promise, on the gateway's hot path: the route
 * handler writes the reply from it, with no promise of the gateway's own
 * between the invoker's answer and the response (bench/gateway).
 *
 *   callUpstream(meta, message, { invoke, timeoutMs, metadata, reply }, (error, output) => ...);
 */
export function callUpstream(meta: RouteMeta, input: MessageShape<DescMessage>, options: CallOptions, done: CallDone): void {
  const { invoke, timeoutMs, metadata, reply } = options;
  const controller = new AbortController();
  const raw = reply.raw;
  // Settled by whichever comes first: the answer, the timeout, the client going away.
  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    raw.off("close", onClose);
    return true;
  };
  const fail = (error: unknown, timedOut: boolean): void => {
    if (settle()) done(upstreamError(meta, error, timedOut ? timeoutMs : undefined), undefined);
  };
  const timer = setTimeout(() => {
    const reason = new DOMException("the gateway's request timeout passed", "TimeoutError");
    fail(reason, true);
    controller.abort(reason);
  }, timeoutMs);
  const onClose = (): void => {
    if (raw.writableEnded) return;
    const reason = new DOMException("the client closed the request", "AbortError");
    fail(reason, false);
    controller.abort(reason);
  };
  raw.on("close", onClose);
  let call: Promise<MessageShape<DescMessage>>;
  try {
    call = invoke(meta.service, meta.method, input, { metadata, deadline: Date.now() + timeoutMs, signal: controller.signal });
  } catch (error) {
    fail(error, false);
    return;
  }
  Promise.resolve(call).then(
    (output) => {
      if (output?.$typeName !== meta.method.output.typeName) {
        fail(new TypeError(`the invoker returned ${String(output?.$typeName)}, expected ${meta.method.output.typeName}`), false);
      } else if (settle()) done(undefined, output);
    },
    (error: unknown) => fail(error, false),
  );
}

/** Invokers must throw FlotillaError; anything else is an upstream failure whose cause stays in the log. */
function upstreamError(meta: RouteMeta, error: unknown, timeoutMs: number | undefined): FlotillaError {
  if (timeoutMs !== undefined) {
    return gatewayErrors.create("GW_ERR_TIMEOUT", `the service did not answer within ${timeoutMs} ms`, { cause: error });
  }
  if (error instanceof FlotillaError) return error;
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) return FlotillaError.from(error);
  const name = `${meta.service.typeName}/${meta.method.name}`;
  return gatewayErrors.create("GW_ERR_UPSTREAM", `the call to ${name} failed`, { cause: error });
}
