// Public surface of the Flotilla chassis: what a service author needs.
export { type Broadcast, type BroadcastHandler, type BroadcastSubscription, topicToken } from "./broadcast/index.ts";
export type { CloudEvent, EventBus, Subscription } from "./bus/types.ts";
export { bytesCodec, type Cache, type CachedOptions, type Codec, cached, createCache, invalidateOn, jsonCodec, protoCodec } from "./cache/index.ts";
export { type CallOptions, type Client, type ClientInterceptor, type ClientPolicy, createClient } from "./client/index.ts";
export { bool, int, loadConfig, oneOf, type Setting, str, url } from "./config/index.ts";
export type { Database, DatabaseProvider, Migration, Queryable } from "./db/types.ts";
export * from "./errors/index.ts";
export { createLogger, type Logger } from "./log/logger.ts";
export type { Instance, Registration, Registry, RegistryEvent, Watch } from "./registry/types.ts";
export { runServiceProcess } from "./runtime/service-process.ts";
export { createFieldCipher, type EncryptedRow, envKeyProvider, type FieldCipher, type KeyProvider, localKeyProvider, reencryptRows, type ReencryptResult } from "./security/crypto/index.ts";
export { createTokenVerifier, type JwksSource, type TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from "./security/jwt/index.ts";
export { defineService } from "./service/define-service.ts";
export type { ServiceContext, ServiceDefinition, ServiceHandlers, ServiceParts, UpgradeHandler } from "./service/types.ts";
export type { CallContext, Metadata, SendOptions, ServerInterceptor, Transport, UnaryFn } from "./transport/types.ts";
export type { ServiceCounter, ServiceMetrics } from "./telemetry/service-metrics.ts";
