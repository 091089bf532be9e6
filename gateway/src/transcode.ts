// REST ⇄ protobuf transcoding by the google.api.http rules, in the proto3 JSON
// mapping (lowerCamelCase names out; both names in).
//
// A request message is filled in three layers, each overriding the one before:
// the body (`body: "*"` the whole message, `body: "field"` one field), then the
// query string (fields not bound by the body or the path; only when the body is
// not "*"), then the path variables.
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethodUnary,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  mergeFromJson,
  type Registry,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { isFieldError } from "@bufbuild/protobuf/reflect";
import type { FlotillaError } from "@flotilla/kit";
import type { Binding } from "./bindings.ts";
import { gatewayErrors } from "./errors.ts";
import { variableValue } from "./path-template.ts";
import { STRING_LIKE } from "./wkt.ts";

export interface HttpInput {
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: unknown;
}

/** Builds the request message of a binding, or throws GW_ERR_INVALID_FIELD naming the field. */
export function decodeRequest(binding: Binding, input: HttpInput, registry?: Registry): MessageShape<DescMessage> {
  const schema = binding.meta.method.input;
  const options = { registry };
  const message = decodeBody(binding, input.body, registry);
  // Most requests have no query string: nothing to build or merge then.
  if (binding.meta.body !== "*" && hasKeys(input.query)) {
    const query = queryJson(binding, input.query);
    decodeOrThrow(schema, query, registry, () => mergeFromJson(schema, message, query, options));
  }
  const plain = plainPathFieldsOf(binding);
  if (plain !== undefined) {
    // What mergeFromJson would do for these fields, without its reflection (the hot path of a GET by id).
    const target = message as unknown as Record<string, unknown>;
    binding.template.variables.forEach((variable, i) => {
      target[plain[i]!] = variableValue(variable, input.params);
    });
    return message;
  }
  const path = pathJson(binding, input.params);
  decodeOrThrow(schema, path, registry, () => mergeFromJson(schema, message, path, options));
  return message;
}

// Per binding: when every path variable binds a top-level string field outside a oneof, the
// fields' property names (a string goes into such a field as it is); else undefined.
const plainPathFields = new WeakMap<Binding, { readonly names: readonly string[] | undefined }>();

function plainPathFieldsOf(binding: Binding): readonly string[] | undefined {
  let known = plainPathFields.get(binding);
  if (known === undefined) {
    const plain = binding.pathFields.every((fields) => {
      const field = fields[0]!;
      return fields.length === 1 && field.fieldKind === "scalar" && field.scalar === ScalarType.STRING && field.oneof === undefined;
    });
    known = { names: plain ? binding.pathFields.map((fields) => fields[0]!.localName) : undefined };
    plainPathFields.set(binding, known);
  }
  return known.names;
}

/** The response body: proto3 JSON with every implicit field present, so mobile decoders see `[]`, `0`, `""`. */
export function encodeResponse(method: DescMethodUnary, message: MessageShape<DescMessage>, registry?: Registry): JsonValue {
  return toJson(method.output, message, { alwaysEmitImplicit: true, registry });
}

function decodeBody(binding: Binding, body: unknown, registry: Registry | undefined): MessageShape<DescMessage> {
  const schema = binding.meta.method.input;
  if (binding.meta.body === "" || body === undefined) return create(schema);
  if (binding.meta.body === "*") {
    if (!isJsonObject(body)) throw invalid("the request body must be a JSON object", []);
    return decodeOrThrow(schema, body, registry, () => fromJson(schema, body, { registry }));
  }
  const field = binding.bodyField!;
  const json: JsonObject = { [field.jsonName]: body as JsonValue };
  return decodeOrThrow(schema, json, registry, () => fromJson(schema, json, { registry }));
}

function pathJson(binding: Binding, params: HttpInput["params"]): JsonObject {
  const json: JsonObject = {};
  binding.template.variables.forEach((variable, i) => {
    const fields = binding.pathFields[i]!;
    const leaf = fields.at(-1)!;
    const name = variable.fieldPath.join(".");
    setPath(json, fields, scalarJson(leaf, variableValue(variable, params), name));
  });
  return json;
}

function queryJson(binding: Binding, query: HttpInput["query"]): JsonObject {
  const json: JsonObject = {};
  const bound = boundFieldsOf(binding);
  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const values = typeof raw === "string" ? [raw] : raw;
    const fields = resolveQueryKey(binding.meta.method.input, key);
    if (typeof fields === "string") throw invalid(`query parameter "${key}": ${fields}`, [{ field: key, message: fields }]);
    if (bound.has(fields[0]!)) {
      const why = "is bound by the path or the body";
      throw invalid(`query parameter "${key}" ${why}`, [{ field: key, message: why }]);
    }
    const leaf = fields.at(-1)!;
    const name = fields.map((f) => f.name).join(".");
    if (leaf.fieldKind === "list") {
      setPath(json, fields, values.map((v) => scalarJson(leaf, v, name)));
    } else if (values.length > 1) {
      throw invalid(`query parameter "${key}" is given more than once`, [{ field: name, message: "given more than once" }]);
    } else {
      setPath(json, fields, scalarJson(leaf, values[0]!, name));
    }
  }
  return json;
}

// The fields the path and the body set, per binding: the query string may not set them again.
const boundFields = new WeakMap<Binding, ReadonlySet<DescField>>();

function boundFieldsOf(binding: Binding): ReadonlySet<DescField> {
  let bound = boundFields.get(binding);
  if (bound === undefined) {
    const fields = new Set<DescField>(binding.pathFields.map((f) => f[0]!));
    if (binding.bodyField) fields.add(binding.bodyField);
    bound = fields;
    boundFields.set(binding, bound);
  }
  return bound;
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}

/** `a.b.c` to its field chain (proto or JSON names), or why it names no settable field. */
function resolveQueryKey(root: DescMessage, key: string): DescField[] | string {
  const fields: DescField[] = [];
  let message: DescMessage | undefined = root;
  for (const part of key.split(".")) {
    const field: DescField | undefined = message?.fields.find((f) => f.name === part || f.jsonName === part);
    if (field === undefined) return "unknown field";
    fields.push(field);
    message = field.fieldKind === "message" && !STRING_LIKE.has(field.message.typeName) ? field.message : undefined;
  }
  const leaf = fields.at(-1)!;
  if (leaf.fieldKind === "map" || (leaf.fieldKind === "list" && leaf.listKind === "message")) {
    return "cannot be set from the query string";
  }
  if (leaf.fieldKind === "message" && !STRING_LIKE.has(leaf.message.typeName)) return "names a message; name one of its fields";
  return fields;
}

/**
 * A path or query string as the JSON value of the field. Numbers stay strings
 * (proto3 JSON accepts them), enums may be a name or a number, booleans must be
 * `true` or `false`.
 */
function scalarJson(field: DescField, raw: string, name: string): JsonValue {
  const isBool =
    ((field.fieldKind === "scalar" || field.fieldKind === "list") && field.scalar === ScalarType.BOOL) ||
    (field.fieldKind === "message" && field.message.typeName === "google.protobuf.BoolValue");
  if (isBool) {
    if (raw === "true" || raw === "false") return raw === "true";
    const why = `expected true or false, got "${truncate(raw)}"`;
    throw invalid(`invalid field "${name}": ${why}`, [{ field: name, message: why }]);
  }
  const isEnum = field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum");
  if (isEnum && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

function setPath(target: JsonObject, fields: readonly DescField[], value: JsonValue): void {
  let node = target;
  fields.forEach((field, i) => {
    if (i === fields.length - 1) {
      node[field.jsonName] = value;
      return;
    }
    let next = node[field.jsonName];
    if (!isJsonObject(next)) {
      next = {};
      node[field.jsonName] = next;
    }
    node = next;
  });
}

/** Runs a protobuf-es decode; its error becomes GW_ERR_INVALID_FIELD with the field's dotted proto path. */
function decodeOrThrow<T>(schema: DescMessage, json: JsonObject, registry: Registry | undefined, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const unknownKey = /key "([^"]*)" is unknown/.exec(error.message);
    const path = locate(schema, json, registry) ?? (isFieldError(error.cause) ? [error.cause.field().name] : undefined);
    const field = path?.join(".") ?? "";
    if (unknownKey !== null) {
      const name = field || unknownKey[1]!;
      throw invalid(`unknown field "${name}"`, [{ field: name, message: "unknown field" }], error);
    }
    const reason = reasonOf(error);
    const detail = field === "" ? `invalid request: ${reason}` : `invalid field "${field}": ${reason}`;
    throw invalid(detail, field === "" ? [] : [{ field, message: reason }], error);
  }
}

function reasonOf(error: Error): string {
  if (isFieldError(error.cause)) return error.cause.message;
  // protobuf-es reports a bad enum value as the bare value; say what it is.
  const badEnum = /^cannot decode enum (\S+) from JSON: (.*)$/.exec(error.message);
  if (badEnum !== null) return `${badEnum[2]} is not a value of ${badEnum[1]}`;
  // ... and a well-known type in the wrong JSON shape as just the shape.
  const badShape = /^cannot decode message (\S+) from JSON:? (object|array|null|true|false|-?[\d.e+]+|".*")$/.exec(error.message);
  if (badShape !== null) return `expected the JSON form of ${badShape[1]}, got ${badShape[2]}`;
  return error.message.replace(/^cannot decode .*? from JSON: /, "");
}

/**
 * Finds the (first) key that fails to decode by decoding keys one at a time,
 * descending into nested messages: protobuf-es names only the innermost field,
 * and for well-known types (an invalid Timestamp) none at all.
 */
function locate(schema: DescMessage, json: JsonObject, registry: Registry | undefined): string[] | undefined {
  for (const [key, value] of Object.entries(json)) {
    try {
      fromJson(schema, { [key]: value }, { registry });
    } catch {
      const field = schema.fields.find((f) => f.name === key || f.jsonName === key);
      if (field === undefined) return [key];
      // Well-known types have their own JSON forms: the field itself is the culprit.
      if (field.fieldKind === "message" && isJsonObject(value) && !field.message.typeName.startsWith("google.protobuf.")) {
        return [field.name, ...(locate(field.message, value, registry) ?? [])];
      }
      return [field.name];
    }
  }
  return undefined;
}

function invalid(detail: string, violations: { field: string; message: string }[], cause?: unknown): FlotillaError {
  return gatewayErrors.create("GW_ERR_INVALID_FIELD", detail, { violations, cause });
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
