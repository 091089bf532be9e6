// The OpenAPI 3.1 document of the routed API, generated from the same
// descriptors and bindings as the routes themselves, so the two cannot drift.
import { STATUS_CODES } from "node:http";
import type { DescField, DescMessage, DescService } from "@bufbuild/protobuf";
import { type Binding, collectBindings } from "./bindings.ts";
import { FORM_CONTENT_TYPE, httpOptionOf } from "./form-body.ts";
import { rawResponseField } from "./http-body.ts";
import { wantsOAuthErrors } from "./oauth-errors.ts";
import { type JsonSchema, SCHEMA_REF_PREFIX, SchemaCollector } from "./openapi-schema.ts";
import { PROBLEM_CONTENT_TYPE } from "./problem.ts";
import { STRING_LIKE } from "./wkt.ts";

export interface OpenApiOptions {
  readonly services: readonly DescService[];
  readonly info?: { readonly title: string; readonly version: string };
}

export interface OpenApiParameter {
  name: string;
  in: "path" | "query";
  required?: boolean;
  description?: string;
  schema: JsonSchema;
  style?: "form";
  explode?: boolean;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  deprecated?: boolean;
  parameters: OpenApiParameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content: Record<string, { schema: JsonSchema }> } | { $ref: string }>;
  security: Record<string, string[]>[];
  [extension: `x-${string}`]: unknown;
}

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, { description: string; content: Record<string, { schema: JsonSchema }> }>;
    securitySchemes: Record<string, JsonSchema>;
  };
}

export const DEFAULT_INFO = { title: "Flotilla API", version: "1.0.0" } as const;

const PROBLEM_SCHEMA: JsonSchema = {
  type: "object",
  title: "Problem",
  description: "RFC 9457 problem details; `code` is the stable error code to branch on.",
  properties: {
    type: { type: "string", format: "uri-reference", examples: ["/problems/gw-err-route-not-found"] },
    title: { type: "string" },
    status: { type: "integer", minimum: 400, maximum: 599 },
    detail: { type: "string" },
    instance: { type: "string", description: "The request id (also in the `x-request-id` header)." },
    code: { type: "string", examples: ["KIT_ERR_INVALID_ARGUMENT"] },
    violations: {
      type: "array",
      items: {
        type: "object",
        properties: { field: { type: "string" }, message: { type: "string" } },
        required: ["field", "message"],
      },
    },
  },
  required: ["type", "title", "status", "code"],
};

export function buildOpenApi(options: OpenApiOptions): OpenApiDocument {
  const collector = new SchemaCollector();
  const paths: OpenApiDocument["paths"] = {};
  for (const binding of collectBindings(options.services)) {
    const key = binding.template.openApiPath;
    paths[key] = { ...paths[key], [binding.meta.verb.toLowerCase()]: operationOf(binding, collector) };
  }
  const info = options.info ?? DEFAULT_INFO;
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version },
    tags: options.services.map((s) => ({ name: s.name, description: `\`${s.typeName}\`` })),
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA, ...sorted(collector.schemas) },
      responses: problemResponses(),
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}

function operationOf(binding: Binding, collector: SchemaCollector): OpenApiOperation {
  const { meta } = binding;
  const input = meta.method.input;
  const permissions = meta.access.permissions;
  const lines = [`Calls \`${meta.service.typeName}/${meta.method.name}\`.`];
  if (permissions.length > 0) lines.push(`Requires the permissions: ${permissions.map((p) => `\`${p}\``).join(", ")}.`);
  if (meta.cache !== undefined) lines.push(`Responses may be cached for ${meta.cache.ttlSeconds} s.`);

  const parameters = pathParameters(binding, collector);
  const bound = new Set<DescField>(binding.pathFields.map((fields) => fields[0]!));
  if (binding.bodyField !== undefined) bound.add(binding.bodyField);
  if (meta.body !== "*") parameters.push(...queryParameters(input, bound, collector));

  const operation: OpenApiOperation = {
    operationId: meta.operationId,
    summary: humanize(meta.method.name),
    description: lines.join(" "),
    tags: [meta.service.name],
    parameters,
    responses: {
      "200": { description: "OK", content: { "application/json": { schema: collector.message(meta.method.output) } } },
      ...errorResponses(binding),
    },
    security: meta.access.public ? [] : [{ bearerAuth: [] }],
  };
  if (meta.method.deprecated) operation.deprecated = true;
  if (permissions.length > 0) operation["x-flotilla-permissions"] = [...permissions];
  if (meta.cache !== undefined) operation["x-flotilla-cache-ttl-seconds"] = meta.cache.ttlSeconds;
  const body = requestBodySchema(binding, bound, collector);
  if (body !== undefined) operation.requestBody = { required: true, content: { "application/json": { schema: body } } };
  describeHttpOption(operation, binding);
  return operation;
}

function pathParameters(binding: Binding, collector: SchemaCollector): OpenApiParameter[] {
  const parameters: OpenApiParameter[] = [];
  binding.template.variables.forEach((variable, i) => {
    const leaf = binding.pathFields[i]!.at(-1)!;
    const fieldName = variable.fieldPath.join(".");
    const whole = variable.parts.length === 1;
    const pattern = variable.parts.map((p) => (p.kind === "literal" ? p.value : p.deep ? "**" : "*")).join("/");
    for (const part of variable.parts) {
      if (part.kind !== "wildcard") continue;
      parameters.push({
        name: part.openApiName,
        in: "path",
        required: true,
        description: whole ? `Sets \`${fieldName}\`.` : `Part of \`${fieldName}\`, which the path sets as \`${pattern}\`.`,
        schema: whole ? collector.field(leaf) : { type: "string" },
      });
    }
  });
  return parameters;
}

/**
 * Every field a query string can set, by its JSON name; nested messages are
 * flattened to dotted names (`filter.city`) a few levels deep. Maps and
 * repeated messages cannot be expressed in a query string and are left out.
 */
function queryParameters(
  message: DescMessage,
  excluded: ReadonlySet<DescField>,
  collector: SchemaCollector,
  prefix = "",
  depth = 0,
): OpenApiParameter[] {
  const parameters: OpenApiParameter[] = [];
  for (const field of message.fields) {
    if (excluded.has(field)) continue;
    const name = `${prefix}${field.jsonName}`;
    if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
      parameters.push({ name, in: "query", schema: collector.field(field) });
    } else if (field.fieldKind === "list" && field.listKind !== "message") {
      parameters.push({ name, in: "query", schema: collector.field(field), style: "form", explode: true });
    } else if (field.fieldKind === "message") {
      if (STRING_LIKE.has(field.message.typeName)) parameters.push({ name, in: "query", schema: collector.field(field) });
      else if (depth < 3 && field.message !== message) {
        parameters.push(...queryParameters(field.message, new Set(), collector, `${name}.`, depth + 1));
      }
    }
  }
  return parameters;
}

function requestBodySchema(binding: Binding, bound: ReadonlySet<DescField>, collector: SchemaCollector): JsonSchema | undefined {
  const { meta } = binding;
  if (meta.body === "") return undefined;
  if (meta.body !== "*") return collector.field(binding.bodyField!);
  const input = meta.method.input;
  const ref = collector.message(input);
  if (binding.pathFields.length === 0) return ref;
  // The path sets some fields: the body schema is the message without them.
  const component = collector.schemas[input.typeName]!;
  const properties = { ...(component.properties as Record<string, JsonSchema>) };
  for (const field of bound) delete properties[field.jsonName];
  const required = ((component.required as string[] | undefined) ?? []).filter((name) => Object.hasOwn(properties, name));
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}) };
}

const PROBLEM_STATUSES = [400, 401, 403, 404, 413, 415, 429, 500, 502, 503, 504] as const;

/** `components.responses`: one problem response per status, e.g. `Problem404`. */
function problemResponses(): OpenApiDocument["components"]["responses"] {
  const content = { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${SCHEMA_REF_PREFIX}Problem` } } };
  return Object.fromEntries(PROBLEM_STATUSES.map((s) => [`Problem${s}`, { description: STATUS_CODES[s] ?? "Error", content }]));
}

function errorResponses(binding: Binding): OpenApiOperation["responses"] {
  const statuses = PROBLEM_STATUSES.filter((s) => {
    if (s === 401 || s === 403) return !binding.meta.access.public;
    if (s === 413 || s === 415) return binding.meta.body !== "";
    return true;
  });
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/Problem${s}` }]));
}

const OAUTH_ERROR_SCHEMA: JsonSchema = {
  type: "object",
  description: "RFC 6749 section 5.2 error",
  properties: { error: { type: "string" }, error_description: { type: "string" } },
  required: ["error"],
};

/** What `(flotilla.options.v1.http)` changes: form bodies, RFC 6749 errors, raw (HTML, redirect) responses. */
function describeHttpOption(operation: OpenApiOperation, binding: Binding): void {
  const http = httpOptionOf(binding.meta.method);
  const json = operation.requestBody?.content["application/json"];
  if (http?.formBody && json !== undefined) operation.requestBody!.content[FORM_CONTENT_TYPE] = json;
  if (wantsOAuthErrors(http)) {
    for (const status of Object.keys(operation.responses)) {
      if (status !== "200") operation.responses[status] = { description: STATUS_CODES[Number(status)] ?? "Error", content: { "application/json": { schema: OAUTH_ERROR_SCHEMA } } };
    }
  }
  if (rawResponseField(binding.meta.method) !== undefined) {
    operation.responses["200"] = { description: "An HTML page", content: { "text/html": { schema: { type: "string" } } } };
    operation.responses["302"] = { description: "A redirect (Location header)", content: {} };
  }
}

/** `ListEvents` → `List events`: the proto comments are not in the embedded descriptors. */
function humanize(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function sorted<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
