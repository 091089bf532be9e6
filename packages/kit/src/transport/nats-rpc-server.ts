// The server side of the NATS transport: a Router served as a NATS micro
// service. Each method is an endpoint on two subjects — one for this instance
// (what Flotilla clients use, so their balancer, retries and ejection keep
// working per instance) and one shared in the queue group "q" (what any micro
// client uses). `$SRV.PING|INFO|STATS` answer discovery as micro clients expect.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { FlotillaError, kitErrors } from "../errors/index.ts";
import { encodeConnectError, statusOfError } from "./connect-error.ts";
import { readRequestHeaders } from "./nats-headers.ts";
import { PublishBatch } from "./nats-publish-batch.ts";
import { deadlineExceeded } from "./deadline.ts";
import {
  CONTENT_TYPE_HEADER,
  checkSubjectPart,
  DEFAULT_RPC_PREFIX,
  ERROR_CODE_HEADER,
  ERROR_HEADER,
  endpointOf,
  NATS_SCHEME,
  QUEUE_GROUP,
  TIMEOUT_HEADER,
} from "./nats-rpc-protocol.ts";
import type { Route, Router } from "./router.ts";
import { ServerCall } from "./server-call.ts";
import type { Metadata } from "./types.ts";

export interface NatsRpcServerOptions {
  router: Router;
  connection: NatsConnection;
  /** The micro service name, e.g. `catalog`. */
  name: string;
  /** This instance's id (registry id); part of its subjects. */
  id: string;
  /** Semantic version reported by `$SRV.INFO`. */
  version: string;
  /** @default "flotilla.rpc" */
  prefix?: string;
  /** Larger request bodies are refused with KIT_ERR_MESSAGE_TOO_LARGE. @default 4 MiB (NATS's own max_payload is usually lower) */
  maxBodyBytes?: number;
  /** Extra `metadata` in the micro INFO/PING answers. */
  metadata?: Record<string, string>;
}

export interface NatsRpcServer {
  /** `nats:<prefix>.<id>`: the address to register. */
  readonly address: string;
  /** Calls whose handler is still running. */
  readonly inFlight: number;
  /**
   * Stops taking calls — the endpoints are unsubscribed, so new requests get
   * NATS's "no responders" (provably undelivered, retried elsewhere) — and
   * resolves once the calls in flight are answered, or after `timeoutMs`.
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Drains, flushes the answers and stops discovery. Leaves the connection open. */
  close(timeoutMs?: number): Promise<void>;
}

const PROTO = "application/proto";
const JSON_TYPE = "application/json";
const TIMEOUT = /^\d{1,10}$/;
const MICRO = "io.nats.micro.v1";

interface EndpointStats {
  name: string;
  subject: string;
  requests: number;
  errors: number;
  lastError: string;
  processingNs: number;
}

function mediaType(value: string | undefined): "proto" | "json" | undefined {
  if (value === undefined || value === PROTO) return "proto";
  if (value === JSON_TYPE) return "json";
  const base = value.split(";", 1)[0]!.trim().toLowerCase();
  if (base === PROTO) return "proto";
  if (base === JSON_TYPE) return "json";
  return undefined;
}

// A header value must be one line.
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/**
 *   const server = await startNatsRpcServer({ router, connection, name: "catalog", id, version: "1.0.0" });
 *   await registry.register({ ..., address: server.address });
 *
 *   nats req flotilla.rpc.flotilla.catalog.v1.CatalogService.GetEvent '{"eventId":"e1"}' -H content-type:application/json
 */
export async function startNatsRpcServer(options: NatsRpcServerOptions): Promise<NatsRpcServer> {
  const { router, connection: nc } = options;
  const prefix = checkSubjectPart("the RPC subject prefix", options.prefix ?? DEFAULT_RPC_PREFIX);
  const id = checkSubjectPart("the instance id", options.id);
  const name = options.name;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `micro service name "${name}" must be letters, digits, _ or -`);
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const started = new Date().toISOString();
  const ownPrefix = `${prefix}.${id}`;
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;
  const batch = new PublishBatch(nc);
  const endpoints: EndpointStats[] = [];
  const subscriptions: Subscription[] = [];

  const settled = () => {
    inFlight--;
    if (inFlight === 0 && idle !== undefined) idle();
  };

  const replyError = (reply: string, error: FlotillaError, stats: EndpointStats | undefined, contentHeaders?: MsgHdrs) => {
    const h = contentHeaders ?? natsHeaders();
    h.set(ERROR_HEADER, oneLine(error.message));
    h.set(ERROR_CODE_HEADER, String(statusOfError(error)));
    h.set(CONTENT_TYPE_HEADER, JSON_TYPE);
    if (stats !== undefined) {
      stats.errors++;
      stats.lastError = error.message;
    }
    batch.publish(reply, encodeConnectError(error), { headers: h });
  };

  function serve(route: Route, stats: EndpointStats, msg: Msg): void {
    const reply = msg.reply;
    // A request without a reply subject cannot be answered: nothing to do.
    if (reply === undefined || reply === "") return;
    stats.requests++;
    if (draining) {
      replyError(reply, kitErrors.create("KIT_ERR_DRAINING", "this instance is shutting down"), stats);
      return;
    }
    const { contentType, timeout, metadata } = readRequestHeaders(msg);
    const type = mediaType(contentType);
    if (type === undefined) {
      replyError(reply, kitErrors.create("KIT_ERR_UNIMPLEMENTED", `content-type "${contentType}" is not supported; use ${PROTO} or ${JSON_TYPE}`), stats);
      return;
    }
    let deadline: number | undefined;
    if (timeout !== undefined) {
      if (!TIMEOUT.test(timeout)) {
        replyError(reply, kitErrors.create("KIT_ERR_MALFORMED_REQUEST", `${TIMEOUT_HEADER} "${timeout}" is not a number of milliseconds`), stats);
        return;
      }
      deadline = Date.now() + Number(timeout);
    }
    const body = msg.data;
    if (body.length > maxBodyBytes) {
      replyError(reply, kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", `the request body is larger than ${maxBodyBytes} bytes`), stats);
      return;
    }
    let input: MessageShape<DescMessage>;
    try {
      input =
        type === "proto"
          ? fromBinary(route.method.input, body)
          : fromJsonString(route.method.input, body.length === 0 ? "{}" : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
    } catch (error) {
      replyError(reply, kitErrors.create("KIT_ERR_MALFORMED_REQUEST", `the body is not a valid ${route.method.input.typeName} (${type})`, { cause: error }), stats);
      return;
    }
    run(route, stats, input, type, deadline, metadata, reply);
  }

  function run(route: Route, stats: EndpointStats, input: MessageShape<DescMessage>, type: "proto" | "json", deadline: number | undefined, metadata: Metadata, reply: string): void {
    if (deadline !== undefined && deadline <= Date.now()) {
      replyError(reply, deadlineExceeded(), stats);
      return;
    }
    const began = performance.now();
    const call = new ServerCall(deadline, () => replyError(reply, deadlineExceeded(), stats));
    inFlight++;
    route.invoke(input, { service: route.service, method: route.method, deadline, metadata, signal: call.signal }).then(
      (output) => {
        stats.processingNs += Math.round((performance.now() - began) * 1e6);
        if (call.settle()) {
          const schema = route.method.output;
          if (type === "proto") {
            batch.publish(reply, toBinary(schema, output));
          } else {
            const h = natsHeaders();
            h.set(CONTENT_TYPE_HEADER, JSON_TYPE);
            batch.publish(reply, toJsonString(schema, output), { headers: h });
          }
        }
        settled();
      },
      (error: unknown) => {
        stats.processingNs += Math.round((performance.now() - began) * 1e6);
        if (call.settle()) replyError(reply, FlotillaError.from(error), stats);
        settled();
      },
    );
  }

  for (const route of router.routes()) {
    const endpoint = endpointOf(route.method);
    const stats: EndpointStats = { name: endpoint.replaceAll(".", "_"), subject: `${prefix}.${endpoint}`, requests: 0, errors: 0, lastError: "", processingNs: 0 };
    endpoints.push(stats);
    const callback = (error: Error | null, msg: Msg) => {
      if (error === null) serve(route, stats, msg);
    };
    subscriptions.push(nc.subscribe(`${ownPrefix}.${endpoint}`, { callback }));
    subscriptions.push(nc.subscribe(stats.subject, { queue: QUEUE_GROUP, callback }));
  }

  // Discovery, as every micro service answers it.
  const identity = () => ({ name, id, version: options.version, metadata: options.metadata ?? {} });
  const discovery: Record<string, () => unknown> = {
    PING: () => ({ type: `${MICRO}.ping_response`, ...identity() }),
    INFO: () => ({
      type: `${MICRO}.info_response`,
      ...identity(),
      description: `Flotilla service ${name}: Connect bodies (application/proto or application/json); instance subjects under ${ownPrefix}`,
      endpoints: endpoints.map((e) => ({ name: e.name, subject: e.subject, queue_group: QUEUE_GROUP, metadata: null })),
    }),
    STATS: () => ({
      type: `${MICRO}.stats_response`,
      ...identity(),
      started,
      endpoints: endpoints.map((e) => ({
        name: e.name,
        subject: e.subject,
        queue_group: QUEUE_GROUP,
        num_requests: e.requests,
        num_errors: e.errors,
        last_error: e.lastError,
        processing_time: e.processingNs,
        average_processing_time: e.requests === 0 ? 0 : Math.round(e.processingNs / e.requests),
      })),
    }),
  };
  const discoverySubs: Subscription[] = [];
  for (const [verb, answer] of Object.entries(discovery)) {
    const callback = (error: Error | null, msg: Msg) => {
      if (error === null && msg.reply) nc.publish(msg.reply, JSON.stringify(answer()));
    };
    for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${name}`, `$SRV.${verb}.${name}.${id}`]) discoverySubs.push(nc.subscribe(subject, { callback }));
  }
  // The subscriptions are live on the NATS server before the address is advertised.
  await nc.flush();

  let unsubscribed: Promise<unknown> | undefined;
  const drain = async (timeoutMs?: number): Promise<void> => {
    // From now on a request that still arrives is refused with KIT_ERR_DRAINING
    // (provably undelivered); once the NATS server has the unsubscriptions,
    // requests get "no responders" instead. Subscription.drain keeps the
    // callback until then, so no request is dropped unanswered.
    if (!draining) {
      draining = true;
      unsubscribed = Promise.allSettled(subscriptions.map((sub) => sub.drain()));
    }
    await unsubscribed;
    if (inFlight === 0) return;
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const previous = idle;
      idle = () => {
        if (timer !== undefined) clearTimeout(timer);
        idle = undefined;
        previous?.();
        resolve();
      };
      if (timeoutMs !== undefined) timer = setTimeout(() => idle?.(), timeoutMs);
    });
  };

  return {
    address: `${NATS_SCHEME}${ownPrefix}`,
    get inFlight() {
      return inFlight;
    },
    drain,
    async close(timeoutMs) {
      await drain(timeoutMs);
      for (const sub of discoverySubs) sub.unsubscribe();
      batch.flushNow();
      if (!nc.isClosed()) await nc.flush();
    },
  };
}
