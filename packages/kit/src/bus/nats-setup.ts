// Creates or updates the JetStream stream and durable consumers the bus uses.
import { AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { kitErrors } from "../errors/index.ts";

const STREAM_NAME_IN_USE = 10058;

export interface StreamSpec {
  name: string;
  subjects: string[];
  maxAgeMs: number;
  duplicateWindowMs: number;
  replicas: number;
}

const isApiError = (error: unknown, code: number): boolean => error instanceof JetStreamApiError && error.code === code;

/** Creates the stream, or updates its subjects and limits if they drifted. Storage and retention are set at creation only. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  const wanted = { subjects: spec.subjects, max_age: nanos(spec.maxAgeMs), duplicate_window: nanos(spec.duplicateWindowMs), num_replicas: spec.replicas };
  for (let attempt = 0; ; attempt++) {
    try {
      const { config } = await jsm.streams.info(spec.name);
      const same = config.max_age === wanted.max_age && config.duplicate_window === wanted.duplicate_window && config.num_replicas === wanted.num_replicas && sameSet(config.subjects ?? [], wanted.subjects);
      if (!same) await jsm.streams.update(spec.name, wanted);
      return;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    }
    try {
      await jsm.streams.add({ name: spec.name, storage: StorageType.File, retention: RetentionPolicy.Limits, discard: DiscardPolicy.Old, ...wanted });
      return;
    } catch (error) {
      // Another process created it between our info and add: read it again.
      if (!isApiError(error, STREAM_NAME_IN_USE) || attempt > 0) throw error;
    }
  }
}

export interface ConsumerSpec {
  stream: string;
  durable: string;
  /** The name the caller gave, for messages. */
  consumer: string;
  filterSubject: string;
  maxAckPending: number;
  ackWaitMs: number;
}

/**
 * Creates the durable pull consumer (deliver all, explicit ack, unlimited
 * deliveries) or checks an existing one follows the same subject. Replicas may
 * run with different concurrency: max_ack_pending only ever grows.
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const ackWait = nanos(spec.ackWaitMs);
  for (let attempt = 0; ; attempt++) {
    try {
      const { config } = await jsm.consumers.info(spec.stream, spec.durable);
      if (config.filter_subject !== spec.filterSubject) {
        throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `consumer "${spec.consumer}" already follows ${config.filter_subject ?? "every subject"}, not ${spec.filterSubject}: use another consumer name`);
      }
      if ((config.max_ack_pending ?? 0) < spec.maxAckPending || config.ack_wait !== ackWait) {
        await jsm.consumers.update(spec.stream, spec.durable, { max_ack_pending: Math.max(config.max_ack_pending ?? 0, spec.maxAckPending), ack_wait: ackWait });
      }
      return;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    }
    try {
      await jsm.consumers.add(spec.stream, {
        durable_name: spec.durable,
        filter_subject: spec.filterSubject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: spec.maxAckPending,
        ack_wait: ackWait,
        max_deliver: -1,
      });
      return;
    } catch (error) {
      // A replica created it with other settings meanwhile: reconcile once.
      if (attempt > 0 || !(error instanceof JetStreamApiError)) throw error;
    }
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
