// The transport layer: how one unary call reaches one instance.
export { decodeConnectError, ERROR_DOMAIN, encodeConnectError } from "./connect-error.ts";
export { HttpTransport, type HttpTransportOptions } from "./http-client.ts";
export { createRpcHandler, type RpcHandler, type RpcHandlerOptions, type RpcServer, type StartRpcServerOptions, startRpcServer } from "./http-server.ts";
export { InprocNetwork, InprocTransport } from "./inproc.ts";
export { methodPath } from "./method-path.ts";
export { NatsTransport, type NatsTransportOptions } from "./nats-rpc-client.ts";
export { DEFAULT_RPC_PREFIX, NATS_SCHEME } from "./nats-rpc-protocol.ts";
export { type NatsRpcServer, type NatsRpcServerOptions, startNatsRpcServer } from "./nats-rpc-server.ts";
export { type AddOptions, type Route, Router, type RouterOptions, toServerError } from "./router.ts";
export { mayHaveBeenDelivered, TransportFailure } from "./transport-failure.ts";
export { type CreateTransportsOptions, createNetworkTransports, createTransports, type NetworkTransportsOptions, TransportSet } from "./transport-set.ts";
export type { CallContext, Metadata, SendOptions, ServerInterceptor, Transport, UnaryFn } from "./types.ts";
