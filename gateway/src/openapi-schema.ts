// JSON Schema (OpenAPI 3.1 dialect) for protobuf messages in the proto3 JSON
// mapping, the same mapping the gateway speaks: lowerCamelCase names, 64-bit
// integers as strings, enums by name, Timestamp as an RFC 3339 string.
import { type DescEnum, type DescField, type DescMessage, type JsonObject, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import { fieldRulesOf } from "./validate-rules.ts";
import { WRAPPERS } from "./wkt.ts";

export type JsonSchema = { [key: string]: unknown };

export const SCHEMA_REF_PREFIX = "#/components/schemas/";

/** Collects `components.schemas`: one entry per message and enum reached, keyed by full type name. */
export class SchemaCollector {
  readonly schemas: Record<string, JsonSchema> = {};

  /** A `$ref` to the message's component, or an inline schema for well-known types. */
  message(desc: DescMessage): JsonSchema {
    const wkt = wellKnown(desc);
    if (wkt !== undefined) return wkt;
    if (!Object.hasOwn(this.schemas, desc.typeName)) {
      const schema: JsonSchema = { type: "object", title: desc.name, properties: {} };
      // Registered before its fields are walked so recursive messages end in a $ref.
      this.schemas[desc.typeName] = schema;
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const field of desc.fields) {
        const rules = fieldRulesOf(field);
        properties[field.jsonName] = this.field(field, rules);
        if (rules?.required === true) required.push(field.jsonName);
      }
      schema.properties = properties;
      if (required.length > 0) schema.required = required;
    }
    return { $ref: `${SCHEMA_REF_PREFIX}${desc.typeName}` };
  }

  enum(desc: DescEnum): JsonSchema {
    if (desc.typeName === "google.protobuf.NullValue") return { type: "null" };
    if (!Object.hasOwn(this.schemas, desc.typeName)) {
      this.schemas[desc.typeName] = { type: "string", title: desc.name, enum: desc.values.map((v) => v.name) };
    }
    return { $ref: `${SCHEMA_REF_PREFIX}${desc.typeName}` };
  }

  /** The schema of one field, with its protovalidate rules where JSON Schema can say them. */
  field(field: DescField, rules: JsonObject | undefined = fieldRulesOf(field)): JsonSchema {
    switch (field.fieldKind) {
      case "scalar":
        return withScalarRules(scalarSchema(field.scalar), rules);
      case "enum":
        return withEnumRules(this.enum(field.enum), field.enum, rules);
      case "message":
        return this.message(field.message);
      case "list": {
        const items =
          field.listKind === "scalar"
            ? scalarSchema(field.scalar)
            : field.listKind === "enum"
              ? this.enum(field.enum)
              : this.message(field.message);
        return withListRules({ type: "array", items }, rules);
      }
      case "map": {
        const values =
          field.mapKind === "scalar"
            ? scalarSchema(field.scalar)
            : field.mapKind === "enum"
              ? this.enum(field.enum)
              : this.message(field.message);
        return { type: "object", additionalProperties: values };
      }
    }
  }
}

export function scalarSchema(scalar: ScalarType): JsonSchema {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
  }
}

function wellKnown(desc: DescMessage): JsonSchema | undefined {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", description: "Seconds with an `s` suffix, e.g. `1.5s`." };
    case "google.protobuf.FieldMask":
      return { type: "string", description: "Comma-separated lowerCamelCase field paths." };
    case "google.protobuf.Struct":
      return { type: "object", additionalProperties: true };
    case "google.protobuf.Value":
      return { description: "Any JSON value." };
    case "google.protobuf.ListValue":
      return { type: "array", items: {} };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true };
  }
  if (WRAPPERS.has(desc.typeName)) {
    const value = desc.fields[0]!;
    const inner = value.fieldKind === "scalar" ? scalarSchema(value.scalar) : {};
    return { ...inner, type: [inner.type, "null"] };
  }
  return undefined;
}

// Rules for the scalar kinds; 64-bit bounds are left out because the JSON
// value is a string, which `minimum` does not apply to.
const NUMERIC_RULES = ["int32", "uint32", "sint32", "fixed32", "sfixed32", "float", "double"];

function withScalarRules(schema: JsonSchema, rules: JsonObject | undefined): JsonSchema {
  if (rules === undefined) return schema;
  const out = { ...schema };
  const string = objectAt(rules, "string");
  if (string !== undefined) {
    setNumber(out, "minLength", string.minLen ?? string.len);
    setNumber(out, "maxLength", string.maxLen ?? string.len);
    if (typeof string.pattern === "string") out.pattern = string.pattern;
    if (string.email === true) out.format = "email";
    if (string.uuid === true) out.format = "uuid";
    if (string.uri === true) out.format = "uri";
    if (string.hostname === true) out.format = "hostname";
    if (Array.isArray(string.in) && string.in.length > 0) out.enum = string.in;
    if (typeof string.const === "string") out.const = string.const;
  }
  for (const kind of NUMERIC_RULES) {
    const numeric = objectAt(rules, kind);
    if (numeric === undefined) continue;
    setNumber(out, "minimum", numeric.gte);
    setNumber(out, "exclusiveMinimum", numeric.gt);
    setNumber(out, "maximum", numeric.lte);
    setNumber(out, "exclusiveMaximum", numeric.lt);
    if (Array.isArray(numeric.in) && numeric.in.length > 0) out.enum = numeric.in;
  }
  return out;
}

/** `not_in: [0]` and `in` narrow the names a client may send; the shared component stays complete. */
function withEnumRules(ref: JsonSchema, desc: DescEnum, rules: JsonObject | undefined): JsonSchema {
  const rule = rules === undefined ? undefined : objectAt(rules, "enum");
  if (rule === undefined) return ref;
  const only = Array.isArray(rule.in) && rule.in.length > 0 ? new Set(rule.in) : undefined;
  const not = new Set(Array.isArray(rule.notIn) ? rule.notIn : []);
  if (only === undefined && not.size === 0) return ref;
  const names = desc.values.filter((v) => (only === undefined || only.has(v.number)) && !not.has(v.number)).map((v) => v.name);
  return { type: "string", title: desc.name, enum: names };
}

function withListRules(schema: JsonSchema, rules: JsonObject | undefined): JsonSchema {
  const repeated = rules === undefined ? undefined : objectAt(rules, "repeated");
  if (repeated === undefined) return schema;
  const out = { ...schema };
  setNumber(out, "minItems", repeated.minItems);
  setNumber(out, "maxItems", repeated.maxItems);
  if (repeated.unique === true) out.uniqueItems = true;
  const items = objectAt(repeated, "items");
  if (items !== undefined) out.items = withScalarRules(out.items as JsonSchema, items);
  return out;
}

function objectAt(json: JsonObject, key: string): JsonObject | undefined {
  const value = json[key];
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
}

/** Sets a numeric keyword from a rule value (64-bit rule values arrive as strings). */
function setNumber(schema: JsonSchema, keyword: string, value: JsonValue | undefined): void {
  if (value === undefined || value === null) return;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n === "number" && Number.isFinite(n)) schema[keyword] = n;
}
