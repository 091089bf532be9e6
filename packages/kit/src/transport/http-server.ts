// The server side of the Connect protocol (unary only) on node:http: a lean
// hot path of our own, since connect-node's general stack measured about a
// fifth of the throughput of plain node:http on the calls between services.
// https://connectrpc.com/docs/protocol/#unary-request
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { type DescMessage, fromBinary, fromJsonString, type MessageShape, toBinary, toJsonString } from "@bufbuild/protobuf";
import { type FlotillaError, kitErrors } from "../errors/index.ts";
import { encodeConnectError, statusOfError } from "./connect-error.ts";
import { deadlineExceeded } from "./deadline.ts";
import type { Route, Router } from "./router.ts";
import { ServerCall } from "./server-call.ts";
import type { Metadata } from "./types.ts";

export interface RpcHandlerOptions {
  /** Larger request bodies are refused with KIT_ERR_MESSAGE_TOO_LARGE. @default 4 MiB */
  maxBodyBytes?: number;
  /** Answers requests whose path is not an RPC path. @default a plain 404 */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
  /** The calling service proven by the connection (mTLS: `callerOfRequest`); becomes `ctx.caller`. */
  callerOf?: (req: IncomingMessage) => string | undefined;
}

export interface RpcHandler {
  /**
   * A request listener. Answers RPC paths (`/<package.Service>/<Method>`) and
   * returns true; hands any other path to `fallback` and returns false.
   */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Calls whose handler is still running. */
  readonly inFlight: number;
  /**
   * Refuses new calls with KIT_ERR_DRAINING (callers retry elsewhere) and
   * resolves once the calls in flight have finished, or after `timeoutMs`.
   */
  drain(timeoutMs?: number): Promise<void>;
}

const RPC_PATH = /^\/[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;
const TIMEOUT = /^\d{1,10}$/;
const PROTO = "application/proto";
const JSON_TYPE = "application/json";

// Protocol and hop-by-hop headers; every other header reaches the handler as metadata.
const notMetadata = new Set([
  "host",
  "connection",
  "keep-alive",
  "content-type",
  "content-length",
  "content-encoding",
  "accept-encoding",
  "transfer-encoding",
  "te",
  "upgrade",
  "expect",
  "accept",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-accept-encoding",
  "connect-content-encoding",
  "proxy-authorization",
  "proxy-connection",
]);

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, ["content-type", "text/plain", "content-length", "9"]);
  res.end("not found");
}

/** The headers the protocol reads, and the others as metadata. */
interface CallHeaders {
  contentType: string | undefined;
  timeout: string | undefined;
  encoding: string | undefined;
  length: string | undefined;
  metadata: Metadata;
}

// node:http has already built `req.headers` (lower-case names, repeats joined)
// by the time the listener runs, so one pass over it is the cheapest read.
function readHeaders(headers: IncomingHttpHeaders): CallHeaders {
  const metadata: Metadata = {};
  for (const name in headers) {
    if (notMetadata.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) metadata[name] = typeof value === "string" ? value : value.join(", ");
  }
  const timeout = headers["connect-timeout-ms"];
  return {
    contentType: headers["content-type"],
    timeout: typeof timeout === "string" ? timeout : timeout?.join(","),
    encoding: headers["content-encoding"],
    length: headers["content-length"],
    metadata,
  };
}

function mediaType(header: string | undefined): "proto" | "json" | undefined {
  if (header === PROTO) return "proto";
  if (header === JSON_TYPE) return "json";
  if (header === undefined) return undefined;
  const base = header.split(";", 1)[0]!.trim().toLowerCase();
  if (base === PROTO) return "proto";
  if (base === JSON_TYPE) return "json";
  return undefined;
}

function replyError(res: ServerResponse, error: FlotillaError, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = encodeConnectError(error);
  const headers = ["content-type", JSON_TYPE, "content-length", String(Buffer.byteLength(body))];
  if (close) headers.push("connection", "close");
  res.writeHead(statusOfError(error), headers);
  res.end(body);
}

/**
 * Serves a router over HTTP/1.1 with the Connect protocol: binary protobuf
 * (`application/proto`) for services, JSON for curl.
 *
 *   const rpc = createRpcHandler(router);
 *   createServer((req, res) => { if (!handleOps(req, res)) rpc.handle(req, res); });
 *
 *   curl -H 'content-type: application/json' -d '{"eventId":"e1"}' \
 *     http://127.0.0.1:7101/flotilla.catalog.v1.CatalogService/GetEvent
 */
export function createRpcHandler(router: Router, options: RpcHandlerOptions = {}): RpcHandler {
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const fallback = options.fallback ?? notFound;
  const callerOf = options.callerOf;
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;

  const settled = () => {
    inFlight--;
    if (inFlight === 0 && idle !== undefined) idle();
  };

  function serve(route: Route, req: IncomingMessage, res: ServerResponse): void {
    const headers = readHeaders(req.headers);
    const type = mediaType(headers.contentType);
    if (type === undefined) {
      const error = kitErrors.create("KIT_ERR_UNIMPLEMENTED", `content-type "${headers.contentType ?? ""}" is not supported; use ${PROTO} or ${JSON_TYPE}`);
      res.setHeader("accept-post", `${PROTO}, ${JSON_TYPE}`);
      res.statusCode = 415;
      replyUnsupported(res, error);
      return;
    }
    const timeout = headers.timeout;
    let deadline: number | undefined;
    if (timeout !== undefined) {
      if (!TIMEOUT.test(timeout)) {
        replyError(res, kitErrors.create("KIT_ERR_MALFORMED_REQUEST", `connect-timeout-ms "${timeout}" is not a number of milliseconds`), true);
        return;
      }
      deadline = Date.now() + Number(timeout);
    }
    const encoding = headers.encoding;
    if (encoding !== undefined && encoding !== "identity" && encoding !== "gzip") {
      replyError(res, kitErrors.create("KIT_ERR_UNIMPLEMENTED", `content-encoding "${encoding}" is not supported`), true);
      return;
    }
    if (headers.length !== undefined && Number(headers.length) > maxBodyBytes) {
      replyError(res, tooLarge(maxBodyBytes), true);
      return;
    }

    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBodyBytes) {
        refused = true;
        first = undefined;
        chunks = undefined;
        replyError(res, tooLarge(maxBodyBytes), true);
        return;
      }
      // Small bodies come in one chunk: no array for them.
      if (first === undefined) first = chunk;
      else if (chunks === undefined) chunks = [first, chunk];
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (refused) return;
      let body = chunks !== undefined ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0));
      let input: MessageShape<DescMessage>;
      try {
        if (encoding === "gzip") body = gunzipSync(body, { maxOutputLength: maxBodyBytes });
        input =
          type === "proto"
            ? fromBinary(route.method.input, body)
            : fromJsonString(route.method.input, body.length === 0 ? "{}" : body.toString("utf8"));
      } catch (error) {
        const failure =
          error instanceof RangeError && encoding === "gzip"
            ? tooLarge(maxBodyBytes)
            : kitErrors.create("KIT_ERR_MALFORMED_REQUEST", `the body is not a valid ${route.method.input.typeName} (${type})`, { cause: error });
        replyError(res, failure, false);
        return;
      }
      run(route, input, type, deadline, headers.metadata, res, callerOf?.(req));
    });
  }

  function run(
    route: Route,
    input: MessageShape<DescMessage>,
    type: "proto" | "json",
    deadline: number | undefined,
    metadata: Metadata,
    res: ServerResponse,
    caller: string | undefined,
  ): void {
    if (deadline !== undefined && deadline <= Date.now()) {
      replyError(res, deadlineExceeded(), false);
      return;
    }
    const call = new ServerCall(deadline, () => replyError(res, deadlineExceeded(), draining));
    // 'close' also follows a normal answer; only an early one means the client left.
    res.on("close", () => {
      if (!call.answered) call.controller.abort(new DOMException("the client closed the connection", "AbortError"));
    });
    inFlight++;
    route.invoke(input, { service: route.service, method: route.method, deadline, metadata, signal: call.signal, caller }).then(
      (output) => {
        settled();
        if (!call.settle() || res.destroyed) return;
        const schema = route.method.output;
        const body = type === "proto" ? toBinary(schema, output) : Buffer.from(toJsonString(schema, output));
        const headers = ["content-type", type === "proto" ? PROTO : JSON_TYPE, "content-length", String(body.byteLength)];
        if (draining) headers.push("connection", "close");
        res.writeHead(200, headers);
        res.end(body);
      },
      (error: FlotillaError) => {
        settled();
        if (call.settle()) replyError(res, error, draining);
      },
    );
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    let path = req.url ?? "/";
    let route = router.lookup(path);
    if (route === undefined) {
      const query = path.indexOf("?");
      if (query >= 0) path = path.slice(0, query);
      if (!RPC_PATH.test(path)) {
        fallback(req, res);
        return false;
      }
      route = router.lookup(path);
      if (route === undefined) {
        // Connect clients read 404 as `unimplemented`; the body says so too.
        res.statusCode = 404;
        replyUnsupported(res, kitErrors.create("KIT_ERR_UNIMPLEMENTED", `no method ${path} here`));
        return true;
      }
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      res.statusCode = 405;
      replyUnsupported(res, kitErrors.create("KIT_ERR_UNIMPLEMENTED", `${req.method} is not supported; Connect unary calls are POST`));
      return true;
    }
    if (draining) {
      replyError(res, kitErrors.create("KIT_ERR_DRAINING", "this instance is shutting down"), true);
      return true;
    }
    serve(route, req, res);
    return true;
  }

  return {
    handle,
    get inFlight() {
      return inFlight;
    },
    drain(timeoutMs?: number): Promise<void> {
      draining = true;
      if (inFlight === 0) return Promise.resolve();
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
    },
  };
}

function tooLarge(max: number): FlotillaError {
  return kitErrors.create("KIT_ERR_MESSAGE_TOO_LARGE", `the request body is larger than ${max} bytes`);
}

// For answers whose HTTP status is not the code's own (404 route, 405, 415):
// the status is set by the caller, the body is a normal Connect error.
function replyUnsupported(res: ServerResponse, error: FlotillaError): void {
  const body = encodeConnectError(error);
  res.setHeader("content-type", JSON_TYPE);
  res.setHeader("content-length", String(Buffer.byteLength(body)));
  res.end(body);
}

export interface RpcServer {
  /** `http://127.0.0.1:<port>`, the address to register. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly rpc: RpcHandler;
  drain(timeoutMs?: number): Promise<void>;
  /** Drains, then closes every connection. */
  close(timeoutMs?: number): Promise<void>;
}

export interface StartRpcServerOptions extends RpcHandlerOptions {
  router: Router;
  /** @default 0 (any free port) */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
}

/** A node:http server that serves only RPC: for tests, benchmarks and RPC-only processes. */
export async function startRpcServer(options: StartRpcServerOptions): Promise<RpcServer> {
  const { router, port = 0, host = "127.0.0.1", ...handlerOptions } = options;
  const rpc = createRpcHandler(router, handlerOptions);
  const server = createServer(rpc.handle);
  // Longer than clients keep idle sockets, so a client never reuses a socket the server is closing.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${bound}`,
    port: bound,
    server,
    rpc,
    drain: (timeoutMs) => rpc.drain(timeoutMs),
    async close(timeoutMs) {
      await rpc.drain(timeoutMs);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
