// A structural check of an OpenAPI 3.1 document, for tests (no validator
// package is installed): the rules a generator most easily breaks.

type Json = { [key: string]: unknown };

const OPERATIONS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const PARAMETER_LOCATIONS = ["query", "header", "path", "cookie"];
const COMPONENT_KEY = /^[a-zA-Z0-9._-]+$/;
const RESPONSE_KEY = /^(default|[1-5](\d\d|XX))$/;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** Every structural problem found; an empty list means the document passed. */
export function openApiProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const fail = (message: string) => problems.push(message);
  if (!isObject(doc)) return ["the document is not an object"];
  if (doc.openapi !== "3.1.0") fail(`openapi is ${String(doc.openapi)}, not 3.1.0`);
  const info = doc.info;
  if (!isObject(info) || typeof info.title !== "string" || typeof info.version !== "string") fail("info needs a title and a version");

  const components = isObject(doc.components) ? doc.components : {};
  for (const section of Object.values(components)) {
    if (!isObject(section)) continue;
    for (const key of Object.keys(section)) if (!COMPONENT_KEY.test(key)) fail(`component key "${key}" has characters OpenAPI forbids`);
  }
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  const tags = new Set(Array.isArray(doc.tags) ? doc.tags.map((t) => (isObject(t) ? t.name : undefined)) : []);

  const operationIds = new Set<string>();
  const paths = isObject(doc.paths) ? doc.paths : {};
  if (!isObject(doc.paths)) fail("paths is missing");
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith("/")) fail(`path "${path}" does not start with /`);
    if (!isObject(item)) continue;
    const templateParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const [method, operation] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!OPERATIONS.includes(method)) {
        fail(`${where}: "${method}" is not an operation`);
        continue;
      }
      if (!isObject(operation)) continue;
      const id = operation.operationId;
      if (typeof id !== "string") fail(`${where}: no operationId`);
      else if (operationIds.has(id)) fail(`${where}: operationId ${id} is not unique`);
      else operationIds.add(id);

      const parameters = Array.isArray(operation.parameters) ? operation.parameters.filter(isObject) : [];
      const seen = new Set<string>();
      for (const p of parameters) {
        const key = `${String(p.in)}:${String(p.name)}`;
        if (seen.has(key)) fail(`${where}: parameter ${key} is declared twice`);
        seen.add(key);
        if (!PARAMETER_LOCATIONS.includes(String(p.in))) fail(`${where}: parameter ${String(p.name)} has in=${String(p.in)}`);
        if (p.schema === undefined && p.content === undefined) fail(`${where}: parameter ${String(p.name)} has no schema`);
        if (p.in === "path" && p.required !== true) fail(`${where}: path parameter ${String(p.name)} must be required`);
      }
      const pathParams = parameters.filter((p) => p.in === "path").map((p) => String(p.name));
      for (const name of templateParams) if (!pathParams.includes(name)) fail(`${where}: {${name}} is not declared as a path parameter`);
      for (const name of pathParams) if (!templateParams.includes(name)) fail(`${where}: path parameter ${name} is not in the template`);

      if (!isObject(operation.responses) || Object.keys(operation.responses).length === 0) fail(`${where}: no responses`);
      else for (const code of Object.keys(operation.responses)) if (!RESPONSE_KEY.test(code)) fail(`${where}: response key ${code}`);
      if (operation.requestBody !== undefined && !(isObject(operation.requestBody) && isObject(operation.requestBody.content))) {
        fail(`${where}: requestBody without content`);
      }
      const security = Array.isArray(operation.security) ? operation.security : [];
      for (const requirement of security) {
        if (!isObject(requirement)) continue;
        for (const name of Object.keys(requirement)) if (!Object.hasOwn(schemes, name)) fail(`${where}: unknown security scheme ${name}`);
      }
      for (const tag of Array.isArray(operation.tags) ? operation.tags : []) if (!tags.has(tag)) fail(`${where}: tag ${String(tag)} is not declared`);
    }
  }

  // Every $ref is local and points at something.
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        walk(child, `${at}/${i}`);
      });
    }
    if (!isObject(node)) return;
    if (typeof node.$ref === "string" && resolvePointer(doc, node.$ref) === undefined) fail(`${at}: $ref ${node.$ref} does not resolve`);
    for (const [key, child] of Object.entries(node)) walk(child, `${at}/${key}`);
  };
  walk(doc, "#");
  return problems;
}

function resolvePointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}
