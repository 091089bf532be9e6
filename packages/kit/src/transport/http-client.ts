// The client side of the Connect protocol (unary, binary protobuf) on undici:
// one keep-alive pool per upstream instance, no pipelining. undici's dispatch
// API with a handler object is the leanest path it offers (no stream per
// response); bench/rpc measured it against node:http's Agent.
import { type DescMessage, type DescMethodUnary, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Agent, type Dispatcher } from "undici";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import type { Instance } from "../registry/types.ts";
import { decodeConnectError } from "./connect-error.ts";
import { canceled, deadlineExceeded } from "./deadline.ts";
import { type DeadlineSlice, deadlineTimers, type Expiring } from "./deadline-timers.ts";
import { methodPath } from "./method-path.ts";
import { unreachable } from "./transport-failure.ts";
import type { SendOptions, Transport } from "./types.ts";

export interface HttpTransportOptions {
  /** Sockets per upstream instance. @default 128 */
  connections?: number;
  /** How long an idle socket is kept for reuse. @default 4000 */
  keepAliveTimeoutMs?: number;
  /** Larger responses fail the call. @default 16 MiB */
  maxResponseBytes?: number;
  /** Replaces the undici Agent (TLS settings, tests). The transport closes it. */
  dispatcher?: Dispatcher;
}

// Failures that prove the request never left: nothing was written to a server.
const notSent = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

const PROTO = "application/proto";

function malformedResponse(message: string, cause?: unknown): FlotillaError {
  return new FlotillaError({ code: "KIT_ERR_UPSTREAM", rpc: "internal", message, cause });
}

/** One call in flight: the undici handler, settling the caller's promise exactly once. */
class Call<O extends DescMessage> implements Dispatcher.DispatchHandler, Expiring {
  readonly #origin: string;
  readonly #output: O;
  readonly #maxBytes: number;
  readonly #resolve: (value: MessageShape<O>) => void;
  readonly #reject: (error: FlotillaError) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #type: string | undefined;
  #chunks: Buffer[] = [];
  #size = 0;
  #sent = false;
  #settled = false;
  #deadline: DeadlineSlice | undefined;
  #signal: AbortSignal | undefined;

  constructor(origin: string, output: O, maxBytes: number, resolve: (value: MessageShape<O>) => void, reject: (error: FlotillaError) => void) {
    this.#origin = origin;
    this.#output = output;
    this.#maxBytes = maxBytes;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  watch(deadline: number | undefined, signal: AbortSignal | undefined): void {
    if (deadline !== undefined) this.#deadline = deadlineTimers.watch(deadline, this);
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () => this.#fail(canceled(signal.reason));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  #onAbort: (() => void) | undefined;

  expire(): void {
    this.#deadline = undefined;
    this.#fail(deadlineExceeded());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Settled (deadline, cancel) while queued for a socket: never send it.
    if (this.#settled) controller.abort(new Error("call already settled"));
  }

  onRequestSent(): void {
    this.#sent = true;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    this.#status = status;
    const type = headers["content-type"];
    this.#type = typeof type === "string" ? type : undefined;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.#maxBytes) {
      this.#fail(kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", `${this.#origin} answered more than ${this.#maxBytes} bytes`));
      controller.abort(new Error("response too large"));
      return;
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    const chunks = this.#chunks;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#size);
    if (this.#status !== 200) {
      this.#fail(decodeConnectError(this.#status, body));
      return;
    }
    const type = this.#type;
    if (type !== PROTO && !type?.startsWith(PROTO)) {
      this.#fail(malformedResponse(`${this.#origin} answered 200 with content-type "${type ?? ""}"`));
      return;
    }
    let output: MessageShape<O>;
    try {
      output = fromBinary(this.#output, body);
    } catch (error) {
      this.#fail(malformedResponse(`${this.#origin} answered a body that is not a ${this.#output.typeName}`, error));
      return;
    }
    this.#done();
    this.#resolve(output);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settled) return;
    const errno = (error as { code?: unknown }).code;
    const code = typeof errno === "string" ? errno : undefined;
    const maybeDelivered = this.#sent && (code === undefined || !notSent.has(code));
    this.#fail(unreachable(`${this.#origin}: ${error.message}`, { maybeDelivered, errno: code, cause: error }));
  }

  #done(): void {
    this.#settled = true;
    if (this.#deadline !== undefined) deadlineTimers.unwatch(this.#deadline, this);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener("abort", this.#onAbort);
  }

  #fail(error: FlotillaError): void {
    if (this.#settled) return;
    this.#done();
    this.#reject(error);
    if (this.#controller !== undefined && !this.#controller.aborted) this.#controller.abort(error);
  }
}

/**
 * Sends calls to `http://host:port` instances with the Connect protocol:
 * `POST /<package.Service>/<Method>`, binary protobuf, the deadline as
 * `connect-timeout-ms`, metadata as headers. Socket failures become a
 * retryable KIT_ERR_UNAVAILABLE whose cause (TransportFailure) says whether
 * the request may have reached the server.
 */
export class HttpTransport implements Transport {
  readonly schemes = ["http:"] as const;
  readonly #dispatcher: Dispatcher;
  readonly #maxResponseBytes: number;

  constructor(options: HttpTransportOptions = {}) {
    const keepAliveTimeout = options.keepAliveTimeoutMs ?? 4000;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({ connections: options.connections ?? 128, pipelining: 1, keepAliveTimeout, keepAliveMaxTimeout: Math.max(keepAliveTimeout, 30_000) });
    this.#maxResponseBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  }

  unary<I extends DescMessage, O extends DescMessage>(target: Instance, method: DescMethodUnary<I, O>, input: MessageShape<I>, options: SendOptions): Promise<MessageShape<O>> {
    const headers = ["content-type", PROTO, "connect-protocol-version", "1"];
    let left: number | undefined;
    if (options.deadline !== undefined) {
      left = options.deadline - Date.now();
      if (left <= 0) return Promise.reject(deadlineExceeded());
      headers.push("connect-timeout-ms", String(left));
    }
    if (options.signal?.aborted) return Promise.reject(canceled(options.signal.reason));
    const metadata = options.metadata;
    for (const name in metadata) headers.push(name, metadata[name] as string);
    let body: Uint8Array;
    try {
      body = toBinary(method.input, input);
    } catch (error) {
      return Promise.reject(kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `cannot encode ${method.input.typeName}`, { cause: error }));
    }
    const origin = target.address;
    const path = methodPath(method);
    return new Promise<MessageShape<O>>((resolve, reject) => {
      const call = new Call(origin, method.output, this.#maxResponseBytes, resolve, reject);
      call.watch(options.deadline, options.signal);
      try {
        // A call with a deadline is settled by it (Call.watch): undici's own header
        // and body timers (minutes long, re-armed for every request) would only duplicate it.
        const request: Dispatcher.DispatchOptions =
          left === undefined ? { origin, path, method: "POST", headers, body } : { origin, path, method: "POST", headers, body, headersTimeout: 0, bodyTimeout: 0 };
        this.#dispatcher.dispatch(request, call);
      } catch (error) {
        call.onResponseError(undefined as never, error as Error);
      }
    });
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
