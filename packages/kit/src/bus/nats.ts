import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import { redactUrl } from "../registry/redact-url.ts";
import { checkCloudEvent } from "./event-checks.ts";
import { toWireMessage } from "./nats-binding.ts";
import { checkStreamName, checkSubjectPrefix, eventSubject, natsConsumerName } from "./nats-names.ts";
import { NatsPublisher, type OutgoingMessage } from "./nats-publisher.ts";
import { ensureConsumer, ensureStream, type StreamSpec } from "./nats-setup.ts";
import { NatsSubscription } from "./nats-subscription.ts";
import { resolveSubscribeOptions } from "./subscribe-options.ts";
import type { CloudEvent, DeliveryHandler, EventBus, SubscribeOptions, Subscription } from "./types.ts";

export type NatsBusTarget = { servers: string | string[] } | { connection: NatsConnection };

export interface NatsBusOptions {
  /** The JetStream stream holding every event; created or updated at connect. @default "FLOTILLA_EVENTS" */
  stream?: string;
  /** Events of type T are published on `<subjectPrefix>.<T>`; the stream takes `<subjectPrefix>.>`. @default "events" */
  subjectPrefix?: string;
  /** How long the stream keeps an event. @default 7 days */
  maxAgeMs?: number;
  /** A republished event id within this window is stored once (the relay after a crash); at most maxAgeMs. @default 120000 */
  duplicateWindowMs?: number;
  /** Stream replicas in a NATS cluster. @default 1 */
  replicas?: number;
  /** How long one publish waits for its PubAck before failing with KIT_ERR_BUS_UNAVAILABLE. @default 5000 */
  publishTimeoutMs?: number;
  /** Events of one publish() call in flight at once. @default 256 */
  publishWindow?: number;
  /** How long the server waits for an ack before redelivering. @default 30000 */
  ackWaitMs?: number;
  /** How long the first connect may take (only when `servers` is given). @default 2000 */
  connectTimeoutMs?: number;
  /** How long one pull request waits for messages; Subscription.stop() may take this long. At least 1000. @default 1000 */
  pullExpiresMs?: number;
  /** Pause before a failed pull loop starts again. @default 1000 */
  consumeRetryMs?: number;
  /** Receives failures no caller can be told of (a pull loop failing, an undecodable message, a lost ack). @default a process warning */
  onError?: (error: unknown) => void;
}

// JetStream's dedupe key: a re-published event id within the duplicate window is stored once.
const MSG_ID = "Nats-Msg-Id";

const warnOnError = (error: unknown): void => {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)), { code: "FLOTILLA_BUS" });
};

function unavailable(message: string, cause?: unknown): FlotillaError {
  return kitErrors.create("KIT_ERR_BUS_UNAVAILABLE", message, cause === undefined ? undefined : { cause });
}

interface NatsBusInit {
  connection: NatsConnection;
  ownsConnection: boolean;
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: NatsPublisher;
  streamSpec: StreamSpec;
  stream: string;
  subjectPrefix: string;
  publishTimeoutMs: number;
  publishWindow: number;
  ackWaitMs: number;
  consumeRetryMs: number;
  pullExpiresMs: number;
  onError: (error: unknown) => void;
}

/**
 * The event bus on NATS JetStream: one stream (`FLOTILLA_EVENTS`, subjects
 * `events.>`), events in CloudEvents binary mode, one durable pull consumer
 * per consumer name filtered on `events.<type>` (nats-server 2.9 allows one
 * filter subject per consumer, so one subscription follows one type).
 *
 *   const bus = await NatsBus.connect({ servers: "nats://127.0.0.1:4222" });
 *   await bus.subscribe({ consumer: "notifications.event-published", type: "catalog.event_published.v1" }, handle);
 *   await bus.publish(events); // resolves once JetStream stored them all
 */
export class NatsBus implements EventBus {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly #init: NatsBusInit;
  readonly #subscriptions = new Set<NatsSubscription>();
  #connected = true;
  #closed = false;

  private constructor(init: NatsBusInit) {
    this.#init = init;
    this.stream = init.stream;
    this.subjectPrefix = init.subjectPrefix;
    void this.#followStatus();
  }

  /** Connects (unless given a connection) and ensures the stream; fails with KIT_ERR_BUS_UNAVAILABLE. */
  static async connect(target: NatsBusTarget, options: NatsBusOptions = {}): Promise<NatsBus> {
    const stream = options.stream ?? "FLOTILLA_EVENTS";
    const subjectPrefix = options.subjectPrefix ?? "events";
    checkStreamName(stream);
    checkSubjectPrefix(subjectPrefix);
    const publishWindow = options.publishWindow ?? 256;
    if (!(Number.isInteger(publishWindow) && publishWindow >= 1)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `publishWindow must be an integer >= 1, got ${publishWindow}`);
    const pullExpiresMs = options.pullExpiresMs ?? 1000;
    if (!(pullExpiresMs >= 1000)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `pullExpiresMs must be at least 1000, got ${pullExpiresMs}`);
    const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
    const maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3600 * 1000;
    let connection: NatsConnection;
    if ("connection" in target) {
      connection = target.connection;
    } else {
      try {
        // noAsyncTraces: no Error (and its stack) built up front for every request (pulls, management calls).
        connection = await connect({ servers: target.servers, timeout: options.connectTimeoutMs ?? 2000, maxReconnectAttempts: -1, name: "flotilla-bus", noAsyncTraces: true });
      } catch (cause) {
        throw unavailable(`cannot connect to NATS at ${redactUrl([target.servers].flat().join(","))}`, cause);
      }
    }
    const ownsConnection = !("connection" in target);
    try {
      const jsm = await jetstreamManager(connection, { timeout: publishTimeoutMs });
      const streamSpec: StreamSpec = {
        name: stream,
        subjects: [`${subjectPrefix}.>`],
        maxAgeMs,
        // JetStream refuses a duplicate window longer than the max age.
        duplicateWindowMs: Math.min(options.duplicateWindowMs ?? 120_000, maxAgeMs),
        replicas: options.replicas ?? 1,
      };
      await ensureStream(jsm, streamSpec);
      return new NatsBus({
        streamSpec,
        connection,
        ownsConnection,
        js: jetstream(connection, { timeout: publishTimeoutMs }),
        jsm,
        publisher: new NatsPublisher({ connection, timeoutMs: publishTimeoutMs, window: publishWindow }),
        stream,
        subjectPrefix,
        publishTimeoutMs,
        publishWindow,
        ackWaitMs: options.ackWaitMs ?? 30_000,
        consumeRetryMs: options.consumeRetryMs ?? 1000,
        pullExpiresMs,
        onError: options.onError ?? warnOnError,
      });
    } catch (cause) {
      if (ownsConnection) await connection.close().catch(() => {});
      if (cause instanceof FlotillaError) throw cause;
      throw unavailable(`cannot set up the event stream "${stream}" (is JetStream enabled?)`, cause);
    }
  }

  /**
   * Publishes with `Nats-Msg-Id` = event id, up to `publishWindow` at once,
   * and resolves when every PubAck is in (see nats-publisher.ts). On the
   * first failure no more are sent and it rejects (KIT_ERR_BUS_UNAVAILABLE,
   * retryable; KIT_ERR_MESSAGE_TOO_LARGE, not) once those in flight settle:
   * some events may be stored, and publishing them all again is safe.
   */
  async publish(events: readonly CloudEvent[]): Promise<void> {
    this.#assertOpen();
    for (const event of events) checkCloudEvent(event);
    if (!this.#connected) throw unavailable("not connected to NATS; the client is reconnecting");
    const messages: OutgoingMessage[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as CloudEvent;
      const { headers, data } = toWireMessage(event);
      headers.add(MSG_ID, event.id);
      messages[i] = { id: event.id, subject: eventSubject(this.subjectPrefix, event.type), headers: headers.asMsgHdrs(), data };
    }
    await this.#init.publisher.publish(messages);
  }

  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    this.#assertOpen();
    const resolved = resolveSubscribeOptions(options);
    const durable = natsConsumerName(resolved.consumer);
    const consumerSpec = {
      stream: this.stream,
      durable,
      consumer: resolved.consumer,
      filterSubject: eventSubject(this.subjectPrefix, resolved.type),
      maxAckPending: resolved.concurrency * 4,
      ackWaitMs: this.#init.ackWaitMs,
    };
    const ensure = async (): Promise<void> => {
      await ensureStream(this.#init.jsm, this.#init.streamSpec);
      await ensureConsumer(this.#init.jsm, consumerSpec);
    };
    try {
      await ensureConsumer(this.#init.jsm, consumerSpec);
    } catch (cause) {
      if (cause instanceof FlotillaError) throw cause;
      throw unavailable(`cannot set up consumer "${resolved.consumer}" on ${this.stream}`, cause);
    }
    const subscription = new NatsSubscription({
      js: this.#init.js,
      stream: this.stream,
      durable,
      options: resolved,
      handler,
      ensure,
      ackWaitMs: this.#init.ackWaitMs,
      pullExpiresMs: this.#init.pullExpiresMs,
      retryMs: this.#init.consumeRetryMs,
      onError: this.#init.onError,
      flush: () => this.#flush(),
      onStop: (s) => this.#subscriptions.delete(s),
    });
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /** Stops every subscription (waiting for handlers in progress), then closes the connection if it opened it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#init.publisher.close();
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    if (this.#init.ownsConnection) await this.#init.connection.close();
  }

  // A flush waits for a reconnect while disconnected: bounded, so that stop() ends.
  async #flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`no answer from NATS within ${this.#init.publishTimeoutMs} ms`)), this.#init.publishTimeoutMs);
    });
    try {
      await Promise.race([this.#init.connection.flush(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Publishing while disconnected fails at once instead of queueing in the
  // client's reconnect buffer until the publish timeout.
  async #followStatus(): Promise<void> {
    for await (const status of this.#init.connection.status()) {
      if (status.type === "disconnect") this.#connected = false;
      else if (status.type === "reconnect") this.#connected = true;
      if (this.#closed) return;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw unavailable("the bus is closed");
  }
}
