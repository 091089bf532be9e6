// The transport layer: how one unary call reaches one instance.
export { decodeConnectError, ERROR_DOMAIN, encodeConnectError } from "./connect-error.ts";
export { HttpTransport, type HttpTransportOptions } from "./http-client.ts";
export { createRpcHandler, type RpcHandler, type RpcHandlerOptions, type RpcServer, type StartRpcServerOptions, startRpcServer } from "./http-server.ts";
export { InprocNetwork, InprocTransport } from "./inproc.ts";
export { methodPath } from "./method-path.ts";
export { type AddOptions, type Route, Router, type RouterOptions, toServerError } from "./router.ts";
export { mayHaveBeenDelivered, TransportFailure } from "./transport-failure.ts";
export { type CreateTransportsOptions, createTransports, TransportSet } from "./transport-set.ts";
export type { CallContext, Metadata, SendOptions, ServerInterceptor, Transport, UnaryFn } from "./types.ts";
