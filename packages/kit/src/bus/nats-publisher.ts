// Publishing to JetStream without a request per message. `js.publish` is a
// request: per message it makes a reply entry, a timer, a promise and (in
// nats.js) an Error for the stack, which cost the relay more CPU than the rest
// of its work. This publisher sends each message with core `publish` and a
// reply subject on ONE subscription of its own (`<inbox>.<n>`), matches the
// PubAck by the counter `n`, keeps at most `window` messages of a call in
// flight (the next one leaves as an ack comes in, from the subscription's
// callback: no promise per message) and expires unanswered messages in one
// sweep. The guarantee is that of `js.publish`: a call resolves only when
// JetStream acknowledged every message; no ack, an error ack or no stream →
// the call rejects and the caller (the relay) publishes again, which the
// stream dedupes by `Nats-Msg-Id`.
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { type FlotillaError, kitErrors } from "../errors/index.ts";

/** One message for JetStream; `id` becomes `Nats-Msg-Id` (set by the caller in `headers`) and names it in errors. */
export interface OutgoingMessage {
  readonly id: string;
  readonly subject: string;
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
}

export interface NatsPublisherInit {
  connection: NatsConnection;
  /** A message without its PubAck after this long fails its call. */
  timeoutMs: number;
  /** Messages of one call in flight at once. */
  window: number;
}

// nats-server's status header code when no stream listens on the subject.
const NO_RESPONDERS = 503;
// JetStream's err_code for a message over the stream's max_msg_size: never worth retrying as is.
const STREAM_MESSAGE_TOO_LARGE = 10054;
const decoder = new TextDecoder();

/** One publish() call: a sliding window over its messages. */
class Call {
  readonly messages: readonly OutgoingMessage[];
  next = 0;
  inFlight = 0;
  acked = 0;
  failure: FlotillaError | undefined;
  readonly resolve: () => void;
  readonly reject: (error: FlotillaError) => void;

  constructor(messages: readonly OutgoingMessage[], resolve: () => void, reject: (error: FlotillaError) => void) {
    this.messages = messages;
    this.resolve = resolve;
    this.reject = reject;
  }
}

interface InFlight {
  readonly call: Call;
  readonly message: OutgoingMessage;
  readonly sentAt: number;
}

export class NatsPublisher {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #window: number;
  readonly #prefix: string;
  readonly #subscription: Subscription;
  /** By reply counter; insertion order is send order, which the sweep relies on. */
  readonly #inFlight = new Map<number, InFlight>();
  #counter = 0;
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(init: NatsPublisherInit) {
    this.#nc = init.connection;
    this.#timeoutMs = init.timeoutMs;
    this.#window = init.window;
    // A connection made with a custom inbox prefix (subject permissions) keeps it.
    const inboxPrefix = (init.connection as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.#prefix = `${createInbox(inboxPrefix)}.`;
    this.#subscription = this.#nc.subscribe(`${this.#prefix}*`, { callback: (error, msg) => this.#onReply(error, msg) });
  }

  /** Resolves when JetStream acknowledged every message; on the first failure sends no more and rejects once those in flight are settled. */
  publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", "the bus is closed"));
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#pump(new Call(messages, resolve, reject));
    });
  }

  /** Fails what is in flight and drops the reply subscription. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#subscription.unsubscribe();
    this.#failAll(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", "the bus was closed before JetStream acknowledged the event"));
  }

  #pump(call: Call): void {
    const sentAt = Date.now();
    while (call.failure === undefined && call.inFlight < this.#window && call.next < call.messages.length) {
      const message = call.messages[call.next++] as OutgoingMessage;
      const counter = ++this.#counter;
      try {
        this.#nc.publish(message.subject, message.data, { reply: this.#prefix + counter, headers: message.headers });
      } catch (cause) {
        call.failure = publishFailure(message, cause);
        break;
      }
      this.#inFlight.set(counter, { call, message, sentAt });
      call.inFlight++;
    }
    this.#sweep ??= this.#startSweep();
    this.#settle(call);
  }

  #settle(call: Call): void {
    if (call.inFlight > 0) return;
    if (call.failure !== undefined) call.reject(call.failure);
    else if (call.acked === call.messages.length) call.resolve();
  }

  #onReply(error: Error | null, msg: Msg): void {
    if (error !== null) {
      // The reply subscription itself failed (e.g. a permissions violation): nothing in flight will be answered.
      this.#failAll(kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", "the JetStream reply subscription failed", { cause: error }));
      return;
    }
    const counter = Number(msg.subject.slice(this.#prefix.length));
    const entry = this.#inFlight.get(counter);
    // An answer after its timeout: the call has already failed and will be published again.
    if (entry === undefined) return;
    this.#inFlight.delete(counter);
    const { call, message } = entry;
    call.inFlight--;
    const failure = ackFailure(message, msg);
    if (failure === undefined) call.acked++;
    else call.failure ??= failure;
    if (call.failure === undefined) this.#pump(call);
    else this.#settle(call);
  }

  // One timer for everything in flight, while anything is: a message
  // unanswered after timeoutMs (checked every quarter of it) fails its call.
  #startSweep(): NodeJS.Timeout {
    const timer = setInterval(
      () => {
        const expired = Date.now() - this.#timeoutMs;
        for (const [counter, entry] of this.#inFlight) {
          if (entry.sentAt > expired) break;
          this.#inFlight.delete(counter);
          entry.call.inFlight--;
          entry.call.failure ??= kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `publishing event ${entry.message.id} to ${entry.message.subject}: no acknowledgement from JetStream within ${this.#timeoutMs} ms`);
          this.#settle(entry.call);
        }
        if (this.#inFlight.size === 0) {
          clearInterval(timer);
          this.#sweep = undefined;
        }
      },
      Math.max(10, Math.floor(this.#timeoutMs / 4)),
    );
    // Unref'd: a bus nobody closed must not keep a finished process alive.
    timer.unref();
    return timer;
  }

  #failAll(error: FlotillaError): void {
    const calls = new Set<Call>();
    for (const { call } of this.#inFlight.values()) {
      call.inFlight--;
      call.failure ??= error;
      calls.add(call);
    }
    this.#inFlight.clear();
    for (const call of calls) this.#settle(call);
  }
}

// What a PubAck says, as `js.publish` reads it: a status header (503: no
// stream takes the subject), an `error` object, or a stream name.
function ackFailure(message: OutgoingMessage, reply: Msg): FlotillaError | undefined {
  const status = reply.headers?.code ?? 0;
  if (status === NO_RESPONDERS) return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `publishing event ${message.id}: no JetStream stream takes ${message.subject}`);
  if (status >= 400 || reply.data.length === 0) {
    return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `publishing event ${message.id} to ${message.subject}: JetStream answered status ${status} ${reply.headers?.description ?? ""}`.trimEnd());
  }
  let ack: { stream?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(decoder.decode(reply.data)) as typeof ack;
  } catch (cause) {
    return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `publishing event ${message.id}: unreadable PubAck from JetStream`, { cause });
  }
  if (ack.error !== undefined) {
    const description = String(ack.error.description ?? "unknown error");
    const what = `publishing event ${message.id} to ${message.subject}: JetStream refused it: ${description} (${String(ack.error.err_code ?? ack.error.code)})`;
    if (ack.error.err_code === STREAM_MESSAGE_TOO_LARGE || /maximum message size|max_payload/i.test(description)) return kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", what);
    return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", what);
  }
  if (typeof ack.stream !== "string" || ack.stream === "") return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `publishing event ${message.id}: invalid PubAck from JetStream`);
  return undefined;
}

function publishFailure(message: OutgoingMessage, cause: unknown): FlotillaError {
  if (cause instanceof Error && /max_payload|maximum message size/i.test(cause.message)) {
    return kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", `event ${message.id} (${message.data.length} bytes) is larger than NATS accepts`, { cause });
  }
  return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", `publishing event ${message.id} to ${message.subject} failed`, { cause });
}
