// Responses written as they are rather than as JSON: a method whose output
// message has a field of type flotilla.options.v1.HttpResponse answers with
// that field, when it is set (an HTML page, a 302 redirect).
import type { DescField, DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import type { optionsV1 } from "@flotilla/contracts";
import type { FastifyReply } from "fastify";

const HTTP_RESPONSE = "flotilla.options.v1.HttpResponse";
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
// Headers the gateway owns: a service must not set these.
const RESERVED = new Set(["content-length", "transfer-encoding", "connection", "x-request-id", "set-cookie", "location", "content-type"]);

/** The output field that carries a raw HTTP response, found once per method. */
export function rawResponseField(method: DescMethodUnary): DescField | undefined {
  return method.output.fields.find((f) => f.fieldKind === "message" && f.message.typeName === HTTP_RESPONSE);
}

/** The raw response in `output`, if the method has one and set it. */
export function rawResponseOf(field: DescField | undefined, output: MessageShape<DescMessage>): optionsV1.HttpResponse | undefined {
  if (field === undefined) return undefined;
  const value = (output as unknown as Record<string, unknown>)[field.localName];
  return value === undefined ? undefined : (value as optionsV1.HttpResponse);
}

/**
 * Writes the raw response: status (default 200, or 302 with a location),
 * headers, content type and body bytes. A redirect's location must be an
 * absolute http(s) URL or a path: anything else (`javascript:`) is refused.
 */
export function sendRaw(reply: FastifyReply, response: optionsV1.HttpResponse): FastifyReply {
  const status = response.status !== 0 ? response.status : response.location !== "" ? 302 : 200;
  if (status < 200 || status > 599) throw new TypeError(`a raw response has status ${status}`);
  for (const [name, value] of Object.entries(response.headers)) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(lower) || RESERVED.has(lower) || /[\r\n]/.test(value)) throw new TypeError(`a raw response sets the header ${JSON.stringify(name)}`);
    reply.header(lower, value);
  }
  if (response.location !== "") {
    if (!isSafeLocation(response.location)) throw new TypeError("a raw response redirects to a location that is not http(s) or a path");
    reply.header("location", response.location);
  }
  reply.code(status);
  if (response.contentType !== "") reply.type(response.contentType);
  return reply.send(Buffer.from(response.body));
}

function isSafeLocation(location: string): boolean {
  if (/[\r\n]/.test(location)) return false;
  if (location.startsWith("/") && !location.startsWith("//")) return true;
  try {
    const url = new URL(location);
    // Native apps' private-use schemes (RFC 8252 7.1) are fine; script schemes are not.
    return !["javascript:", "data:", "vbscript:", "file:"].includes(url.protocol);
  } catch {
    return false;
  }
}
