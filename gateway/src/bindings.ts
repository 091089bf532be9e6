// Reads the HTTP bindings of every method from its contract annotations:
// google.api.http for the route, flotilla.options.v1 for access and caching.
import { type DescField, type DescMessage, type DescMethodUnary, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { googleApi, optionsV1 } from "@flotilla/contracts";
import { gatewayErrors } from "./errors.ts";
import { type PathTemplate, parsePathTemplate, TemplateError } from "./path-template.ts";
import type { HttpVerb, RouteMeta } from "./types.ts";

type HttpRule = ReturnType<typeof getOption<typeof googleApi.http, DescMethodUnary>>;

/** One route of one method. */
export interface Binding {
  readonly meta: RouteMeta;
  readonly template: PathTemplate;
  /** For each template variable, the fields from the request message down to the bound one. */
  readonly pathFields: readonly (readonly DescField[])[];
  /** The field that `body: "<field>"` names. */
  readonly bodyField: DescField | undefined;
}

const VERBS = { get: "GET", post: "POST", put: "PUT", patch: "PATCH", delete: "DELETE" } as const satisfies Record<string, HttpVerb>;

/**
 * Every routable binding of the given services, in contract order. Methods
 * without a google.api.http option, streaming methods and methods marked
 * `access.internal` are not routed. Throws GW_ERR_BAD_ROUTE for an
 * annotation the gateway cannot serve, naming the method.
 */
export function collectBindings(services: readonly DescService[]): Binding[] {
  const bindings: Binding[] = [];
  for (const service of services) {
    for (const m of service.methods) {
      if (m.methodKind !== "unary" || !hasOption(m, googleApi.http)) continue;
      const method = m as DescMethodUnary;
      const access = getOption(method, optionsV1.access);
      if (access.internal) continue;
      const cache = hasOption(method, optionsV1.cache) ? getOption(method, optionsV1.cache) : undefined;
      const rule = getOption(method, googleApi.http);
      const rules = [rule, ...rule.additionalBindings];
      for (const [index, r] of rules.entries()) {
        const operationId = `${service.name}_${method.name}${index === 0 ? "" : `_${index}`}`;
        bindings.push(bindingOf(service, method, r, operationId, access, cache));
      }
    }
  }
  return bindings;
}

function bindingOf(
  service: DescService,
  method: DescMethodUnary,
  rule: HttpRule,
  operationId: string,
  access: optionsV1.Access,
  cache: optionsV1.Cache | undefined,
): Binding {
  const fail = (why: string): never => {
    throw gatewayErrors.create("GW_ERR_BAD_ROUTE", `${method.parent.typeName}.${method.name}: ${why}`);
  };
  const { case: kind, value } = rule.pattern;
  if (kind === undefined || kind === "custom") return fail("only get, post, put, patch and delete rules are routed");
  if (rule.responseBody !== "") fail("response_body is not supported");
  let template: PathTemplate;
  try {
    template = parsePathTemplate(value);
  } catch (error) {
    if (error instanceof TemplateError) return fail(error.message);
    throw error;
  }
  const pathFields = template.variables.map((v) => {
    const fields = resolveFieldPath(method.input, v.fieldPath);
    if (typeof fields === "string") return fail(`path variable {${v.fieldPath.join(".")}}: ${fields}`);
    return fields;
  });
  let bodyField: DescField | undefined;
  if (rule.body !== "" && rule.body !== "*") {
    bodyField = method.input.fields.find((f) => f.name === rule.body);
    if (bodyField === undefined) fail(`body field "${rule.body}" is not in ${method.input.typeName}`);
  }
  const verb = VERBS[kind];
  if ((verb === "GET" || verb === "DELETE") && rule.body !== "") fail(`${verb} cannot have a body`);
  return {
    meta: { service, method, operationId, verb, template: value, body: rule.body, access, cache },
    template,
    pathFields,
    bodyField,
  };
}

/** The chain of fields for a dotted path, or why it cannot be bound to a path segment. */
function resolveFieldPath(root: DescMessage, names: readonly string[]): DescField[] | string {
  const fields: DescField[] = [];
  let message: DescMessage | undefined = root;
  for (const name of names) {
    const field: DescField | undefined = message?.fields.find((f) => f.name === name);
    if (message === undefined || field === undefined) return `no field "${name}" in ${message?.typeName ?? "a scalar"}`;
    fields.push(field);
    message = field.fieldKind === "message" ? field.message : undefined;
  }
  const leaf = fields.at(-1);
  if (leaf === undefined || (leaf.fieldKind !== "scalar" && leaf.fieldKind !== "enum")) return "must name a singular scalar or enum field";
  return fields;
}
