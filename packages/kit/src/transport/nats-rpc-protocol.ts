// The wire of the NATS transport: the NATS services protocol ("micro",
// https://github.com/nats-io/nats-architecture-and-design/blob/main/adr/ADR-32.md)
// with the Connect protocol's bodies and headers, so any NATS client in any
// language can call a Flotilla service and read its errors.
//
//   request:  subject <prefix>.<instance id>.<package.Service>.<Method>   (one instance)
//             subject <prefix>.<package.Service>.<Method>, queue group "q" (any instance)
//             body    the request message, binary protobuf (or JSON with content-type application/json)
//             headers connect-timeout-ms (relative deadline), metadata (traceparent, ...)
//   reply:    body    the response message; on error the Connect error JSON (code, message, details)
//             headers Nats-Service-Error (message), Nats-Service-Error-Code (the Connect HTTP status)
import type { DescMethod } from "@bufbuild/protobuf";
import { kitErrors } from "../errors/index.ts";

/** Address scheme of the NATS transport: `nats:<prefix>.<instance id>`. */
export const NATS_SCHEME = "nats:";
export const DEFAULT_RPC_PREFIX = "flotilla.rpc";
export const QUEUE_GROUP = "q";
export const ERROR_HEADER = "Nats-Service-Error";
export const ERROR_CODE_HEADER = "Nats-Service-Error-Code";
export const TIMEOUT_HEADER = "connect-timeout-ms";
export const CONTENT_TYPE_HEADER = "content-type";

// One subject token, or dot-separated tokens: no wildcards, no spaces.
const TOKENS = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function checkSubjectPart(what: string, value: string): string {
  if (!TOKENS.test(value)) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `${what} "${value}" is not usable in a NATS subject (letters, digits, _ and - in dot-separated tokens)`);
  return value;
}

/** `<package.Service>.<Method>`: the endpoint part of a subject. */
export function endpointOf(method: DescMethod): string {
  return `${method.parent.typeName}.${method.name}`;
}

/** The subject that reaches one instance, from its advertised address. */
export function instanceSubjectPrefix(address: string): string {
  return address.slice(NATS_SCHEME.length);
}
