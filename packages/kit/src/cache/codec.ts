import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";

/** Turns values into the bytes a cache stores, and back. `decode` throws on bytes it cannot read. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** UTF-8 JSON; the default of `cached`. The value must survive JSON (no Dates, Maps or bigints). */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as T,
  };
}

/** Bytes as they are. */
export const bytesCodec: Codec<Uint8Array> = { encode: (value) => value, decode: (bytes) => bytes };

/**
 * A protobuf message in its binary encoding, for caching RPC responses:
 *
 *   cached(cache, "events:list", { ttlMs: 30_000, codec: protoCodec(ListEventsResponseSchema) }, load);
 */
export function protoCodec<Desc extends DescMessage>(schema: Desc): Codec<MessageShape<Desc>> {
  return { encode: (message) => toBinary(schema, message), decode: (bytes) => fromBinary(schema, bytes) };
}
