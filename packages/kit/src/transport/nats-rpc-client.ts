// The client side of the NATS transport: unary calls as NATS request/reply to
// one instance's subject (see nats-rpc-protocol.ts). All answers come back on
// one wildcard inbox subscription per transport, and the NATS client batches
// whatever is published in the same tick into one socket write — many calls
// per system call both ways, where HTTP/1.1 pays one write and one read each.
import { type DescMessage, type DescMethodUnary, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { connect, createInbox, type Msg, type NatsConnection, NoRespondersError, type Subscription } from "@nats-io/transport-node";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import type { Instance } from "../registry/types.ts";
import { decodeConnectError } from "./connect-error.ts";
import { canceled, deadlineExceeded } from "./deadline.ts";
import { type DeadlineSlice, deadlineTimers, type Expiring } from "./deadline-timers.ts";
import { RequestHeaders } from "./nats-headers.ts";
import { PublishBatch } from "./nats-publish-batch.ts";
import { CONTENT_TYPE_HEADER, ERROR_CODE_HEADER, endpointOf, instanceSubjectPrefix, NATS_SCHEME, TIMEOUT_HEADER } from "./nats-rpc-protocol.ts";
import { unreachable } from "./transport-failure.ts";
import type { SendOptions, Transport } from "./types.ts";

export type NatsTransportOptions = ({ servers: string | string[] } | { connection: NatsConnection }) & {
  /** Larger responses fail the call. @default 16 MiB */
  maxResponseBytes?: number;
  /** How long the first connect may take (only with `servers`). @default 2000 */
  connectTimeoutMs?: number;
  /** After how long without an answer the instance is asked whether it is still there. @default 250 */
  livenessProbeMs?: number;
};

type Options = { connection: NatsConnection; maxResponseBytes?: number; livenessProbeMs?: number };

/** One call waiting for its answer. */
class Pending<O extends DescMessage> implements Expiring {
  readonly target: Instance;
  readonly sentAt = Date.now();
  readonly subject: string;
  readonly output: O;
  readonly resolve: (value: MessageShape<O>) => void;
  readonly reject: (error: FlotillaError) => void;
  readonly #pending: Map<number, Pending<DescMessage>>;
  readonly #token: number;
  deadline: DeadlineSlice | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    pending: Map<number, Pending<DescMessage>>,
    token: number,
    target: Instance,
    subject: string,
    output: O,
    resolve: (value: MessageShape<O>) => void,
    reject: (error: FlotillaError) => void,
  ) {
    this.#pending = pending;
    this.#token = token;
    this.target = target;
    this.subject = subject;
    this.output = output;
    this.resolve = resolve;
    this.reject = reject;
  }

  expire(): void {
    this.deadline = undefined;
    if (!this.#pending.delete(this.#token)) return;
    this.cleanup();
    this.reject(deadlineExceeded());
  }

  cleanup(): void {
    if (this.deadline !== undefined) deadlineTimers.unwatch(this.deadline, this);
    if (this.onAbort !== undefined) this.signal?.removeEventListener("abort", this.onAbort);
  }
}

/**
 * Sends calls to `nats:<prefix>.<instance id>` instances. A deadline is
 * enforced here and sent as `connect-timeout-ms`; "no responders" (nothing
 * subscribed: the instance is gone or drained) is a retryable
 * KIT_ERR_UNAVAILABLE that provably never reached a handler.
 *
 * NATS says nothing when the instance holding a request dies (HTTP would see
 * the connection reset). So a call unanswered after `livenessProbeMs` makes
 * the transport ping that instance (`$SRV.PING.<service>.<id>`); "no
 * responders" means it is gone, and its calls fail at once as a retryable
 * KIT_ERR_UNAVAILABLE that may have been delivered — idempotent calls are
 * retried elsewhere instead of waiting for their deadline.
 *
 *   const transport = await NatsTransport.connect({ servers: "nats://127.0.0.1:4222" });
 */
export class NatsTransport implements Transport {
  readonly schemes = [NATS_SCHEME] as const;
  readonly #nc: NatsConnection;
  readonly #owns: boolean;
  readonly #maxResponseBytes: number;
  readonly #inbox: string;
  readonly #inboxLength: number;
  readonly #subscription: Subscription;
  readonly #batch: PublishBatch;
  readonly #pending = new Map<number, Pending<DescMessage>>();
  readonly #subjects = new Map<string, Map<DescMethodUnary, string>>();
  readonly #probeMs: number;
  readonly #probing = new Set<string>();
  #probeTimer: NodeJS.Timeout | undefined;
  #next = 0;

  constructor(options: Options, owns = false) {
    this.#nc = options.connection;
    this.#probeMs = options.livenessProbeMs ?? 250;
    this.#owns = owns;
    this.#maxResponseBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
    this.#batch = new PublishBatch(this.#nc);
    this.#inbox = `${createInbox()}.`;
    this.#inboxLength = this.#inbox.length;
    this.#subscription = this.#nc.subscribe(`${this.#inbox}*`, {
      callback: (error, msg) => {
        if (error === null) this.#answer(msg);
      },
    });
  }

  /** Connects (unless given a connection); fails with KIT_ERR_UNAVAILABLE. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    if ("connection" in options) return new NatsTransport(options);
    const { servers, connectTimeoutMs, ...rest } = options;
    try {
      const connection = await connect({ servers, timeout: connectTimeoutMs ?? 2000, name: "flotilla-rpc-client" });
      return new NatsTransport({ connection, ...rest }, true);
    } catch (cause) {
      throw kitErrors.create("KIT_ERR_UNAVAILABLE", "cannot connect to NATS for RPC", { cause });
    }
  }

  #subjectOf(address: string, method: DescMethodUnary): string {
    let byMethod = this.#subjects.get(address);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#subjects.set(address, byMethod);
    }
    let subject = byMethod.get(method);
    if (subject === undefined) {
      subject = `${instanceSubjectPrefix(address)}.${endpointOf(method)}`;
      byMethod.set(method, subject);
    }
    return subject;
  }

  unary<I extends DescMessage, O extends DescMessage>(target: Instance, method: DescMethodUnary<I, O>, input: MessageShape<I>, options: SendOptions): Promise<MessageShape<O>> {
    const deadline = options.deadline;
    const h = new RequestHeaders();
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) return Promise.reject(deadlineExceeded());
      h.add(TIMEOUT_HEADER, String(left));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(canceled(signal.reason));
    const metadata = options.metadata;
    try {
      for (const name in metadata) h.add(name, metadata[name] as string);
    } catch (error) {
      return Promise.reject(error);
    }
    let body: Uint8Array;
    try {
      body = toBinary(method.input, input);
    } catch (error) {
      return Promise.reject(kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `cannot encode ${method.input.typeName}`, { cause: error }));
    }
    const subject = this.#subjectOf(target.address, method as DescMethodUnary);
    const token = this.#next++;
    return new Promise<MessageShape<O>>((resolve, reject) => {
      const map = this.#pending;
      const pending = new Pending(map, token, target, subject, method.output, resolve, reject);
      if (deadline !== undefined) pending.deadline = deadlineTimers.watch(deadline, pending);
      if (signal !== undefined) {
        pending.signal = signal;
        pending.onAbort = () => {
          if (!map.delete(token)) return;
          pending.cleanup();
          reject(canceled(signal.reason));
        };
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      map.set(token, pending as unknown as Pending<DescMessage>);
      if (this.#probeTimer === undefined) {
        this.#probeTimer = setInterval(this.#probe, this.#probeMs);
        this.#probeTimer.unref();
      }
      if (this.#nc.isClosed()) {
        map.delete(token);
        pending.cleanup();
        reject(unreachable(`${subject}: the NATS connection is closed`, { maybeDelivered: false }));
        return;
      }
      this.#batch.publish(subject, body, { reply: this.#inbox + token.toString(36), headers: h.asMsgHdrs() }, (error) => {
        // Closed or draining connection: nothing was sent.
        if (!map.delete(token)) return;
        pending.cleanup();
        reject(unreachable(`${subject}: ${(error as Error).message}`, { maybeDelivered: false, cause: error }));
      });
    });
  }

  /** Pings each instance that holds a call older than the probe period (one ping in flight per instance). */
  readonly #probe = (): void => {
    if (this.#pending.size === 0) {
      clearInterval(this.#probeTimer);
      this.#probeTimer = undefined;
      return;
    }
    const asked = Date.now();
    const cutoff = asked - this.#probeMs;
    const targets = new Map<string, Instance>();
    for (const pending of this.#pending.values()) {
      const address = pending.target.address;
      if (pending.sentAt <= cutoff && !this.#probing.has(address) && !targets.has(address)) targets.set(address, pending.target);
    }
    for (const [address, target] of targets) {
      this.#probing.add(address);
      this.#nc.request(`$SRV.PING.${target.service}.${target.id}`, undefined, { timeout: this.#probeMs * 4 }).then(
        () => this.#probing.delete(address),
        (error: unknown) => {
          this.#probing.delete(address);
          const gone = error instanceof NoRespondersError || (error as { cause?: unknown }).cause instanceof NoRespondersError;
          if (gone) this.#lost(address, asked);
        },
      );
    }
  };

  /** Fails the calls sent to `address` before `before`: the instance holding them is gone. */
  #lost(address: string, before: number): void {
    for (const [token, pending] of this.#pending) {
      if (pending.target.address !== address || pending.sentAt > before) continue;
      this.#pending.delete(token);
      pending.cleanup();
      pending.reject(unreachable(`${pending.subject}: the instance went away with the call in flight`, { maybeDelivered: true }));
    }
  }

  // The call's number from the reply subject (`<inbox><base 36>`), read from
  // the subject's bytes when nats.js exposes them: decoding the subject into a
  // string and hashing that cost more than the rest of matching an answer.
  #tokenOf(msg: Msg): number {
    const bytes = (msg as unknown as { _msg?: { subject?: Uint8Array } })._msg?.subject;
    if (bytes === undefined) return Number.parseInt(msg.subject.slice(this.#inboxLength), 36);
    if (bytes.length <= this.#inboxLength) return -1;
    let token = 0;
    for (let i = this.#inboxLength; i < bytes.length; i++) {
      const c = bytes[i] as number;
      const digit = c <= 57 ? c - 48 : c - 87;
      if (digit < 0 || digit > 35 || (c > 57 && c < 97)) return -1;
      token = token * 36 + digit;
    }
    return token;
  }

  #answer(msg: Msg): void {
    const token = this.#tokenOf(msg);
    const pending = this.#pending.get(token);
    if (pending === undefined) return; // settled already (deadline, cancel)
    this.#pending.delete(token);
    pending.cleanup();
    const data = msg.data;
    const h = msg.headers;
    if (h !== undefined) {
      // A status message from the NATS server, not from a service.
      if (h.code === 503) {
        pending.reject(unreachable(`no responders on ${pending.subject}`, { maybeDelivered: false }));
        return;
      }
      const code = h.get(ERROR_CODE_HEADER);
      if (code !== "") {
        pending.reject(decodeConnectError(Number(code) || 500, data));
        return;
      }
      const type = h.get(CONTENT_TYPE_HEADER);
      if (type !== "" && !type.startsWith("application/proto")) {
        pending.reject(new FlotillaError({ code: "KIT_ERR_UPSTREAM", rpc: "internal", message: `${pending.subject} answered with content-type "${type}"` }));
        return;
      }
    }
    if (data.length > this.#maxResponseBytes) {
      pending.reject(kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", `${pending.subject} answered more than ${this.#maxResponseBytes} bytes`));
      return;
    }
    let output: MessageShape<DescMessage>;
    try {
      output = fromBinary(pending.output, data);
    } catch (cause) {
      pending.reject(new FlotillaError({ code: "KIT_ERR_UPSTREAM", rpc: "internal", message: `${pending.subject} answered a body that is not a ${pending.output.typeName}`, cause }));
      return;
    }
    pending.resolve(output);
  }

  async close(): Promise<void> {
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    for (const [token, pending] of this.#pending) {
      this.#pending.delete(token);
      pending.cleanup();
      pending.reject(unreachable(`${pending.subject}: the transport closed`, { maybeDelivered: true }));
    }
    if (this.#nc.isClosed()) return;
    this.#subscription.unsubscribe();
    if (this.#owns) await this.#nc.close();
  }
}
