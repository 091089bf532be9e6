// `application/x-www-form-urlencoded` request bodies, for the methods whose
// contract asks for them with `(flotilla.options.v1.http).form_body` (the OAuth
// 2.0 endpoints: RFC 6749 section 3.2 mandates this encoding).
import { type DescMessage, type DescMethodUnary, getOption, hasOption, type JsonObject, ScalarType } from "@bufbuild/protobuf";
import { optionsV1 } from "@flotilla/contracts";
import type { FastifyInstance } from "fastify";
import { gatewayErrors } from "./errors.ts";

export const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

/** A parsed form body; routes tell it apart from a JSON body by its class. */
export class FormBody {
  readonly fields: ReadonlyMap<string, string>;
  constructor(fields: ReadonlyMap<string, string>) {
    this.fields = fields;
  }
}

/**
 * Parses a form body. A parameter given twice is refused (RFC 6749 3.1:
 * "Request and response parameters MUST NOT be included more than once"), so
 * a proxy or a client cannot smuggle a second value past a check.
 */
export function parseForm(text: string): FormBody {
  const fields = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(text)) {
    if (fields.has(key)) {
      throw gatewayErrors.create("GW_ERR_INVALID_FIELD", `form parameter "${truncate(key)}" is given more than once`, {
        violations: [{ field: key, message: "given more than once" }],
      });
    }
    fields.set(key, value);
  }
  return new FormBody(fields);
}

/** Adds the form parser; call after removeAllContentTypeParsers. */
export function addFormParser(app: FastifyInstance): void {
  app.addContentTypeParser(FORM_CONTENT_TYPE, { parseAs: "string" }, async (_request: unknown, body: string | Buffer) =>
    parseForm(typeof body === "string" ? body : body.toString("utf8")),
  );
}

// Read once per method: getOption decodes the option from the descriptor's bytes each time.
const httpOptions = new WeakMap<DescMethodUnary, { readonly value: optionsV1.Http | undefined }>();

/** The method's `(flotilla.options.v1.http)`, when its contract declares one. */
export function httpOptionOf(method: DescMethodUnary): optionsV1.Http | undefined {
  let known = httpOptions.get(method);
  if (known === undefined) {
    known = { value: hasOption(method, optionsV1.http) ? getOption(method, optionsV1.http) : undefined };
    httpOptions.set(method, known);
  }
  return known.value;
}

/**
 * The JSON object a form stands for: each parameter sets the field of that
 * (proto or JSON) name; booleans from `true`/`false`. Parameters naming no
 * field are dropped, as RFC 6749 3.1 requires of unrecognised parameters.
 */
export function formToJson(schema: DescMessage, form: FormBody): JsonObject {
  const json: JsonObject = {};
  for (const [key, value] of form.fields) {
    const field = schema.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) continue;
    if (field.fieldKind === "scalar" && field.scalar === ScalarType.BOOL) {
      if (value !== "true" && value !== "false") {
        throw gatewayErrors.create("GW_ERR_INVALID_FIELD", `invalid field "${field.name}": expected true or false`, {
          violations: [{ field: field.name, message: "expected true or false" }],
        });
      }
      json[field.jsonName] = value === "true";
    } else if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
      json[field.jsonName] = value;
    }
    // Lists, maps and messages cannot come from a flat form: ignored like unknown parameters.
  }
  return json;
}

/** Keeps only the query parameters that name a field (RFC 6749 3.1: unrecognised ones are ignored). */
export function knownQuery<T>(schema: DescMessage, query: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(query)) {
    const root = key.split(".", 1)[0]!;
    if (schema.fields.some((f) => f.name === root || f.jsonName === root)) out[key] = value;
  }
  return out;
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

/**
 * The body for the transcoder: a form becomes its JSON object on a method that
 * accepts forms, and is refused (415) on any other.
 */
export function bodyFor(body: unknown, method: DescMethodUnary, http: optionsV1.Http | undefined): unknown {
  if (!(body instanceof FormBody)) return body;
  if (http?.formBody !== true) {
    throw gatewayErrors.create("GW_ERR_UNSUPPORTED_MEDIA_TYPE", `this route takes application/json, not ${FORM_CONTENT_TYPE}`);
  }
  return formToJson(method.input, body);
}

/**
 * RFC 6749 2.3.1: a confidential client may authenticate with HTTP Basic on
 * the form endpoints; the header is passed on to the service, which checks it.
 * (Bearer tokens are the auth plugin's business, not this one's.)
 */
export function clientAuthorizationOf(header: string | undefined, http: optionsV1.Http | undefined): string | undefined {
  if (http?.formBody !== true || header === undefined) return undefined;
  return /^Basic [A-Za-z0-9+/]+=*$/i.test(header.trim()) ? header.trim() : undefined;
}
