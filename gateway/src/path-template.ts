// The path templates of google.api.http, turned into Fastify routes:
//
//   Template = "/" Segments ;  Segments = Segment { "/" Segment } ;
//   Segment  = LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
//
// where a variable's own segments are literals, "*" (one segment) or "**"
// (the rest of the path, last only). Verbs (":cancel") and bare wildcards
// outside a variable are not supported: parsing fails with a message.

export type PatternPart =
  | { readonly kind: "literal"; readonly value: string }
  /** `param` is the Fastify parameter that captures it (`*` for a deep one). */
  | { readonly kind: "wildcard"; readonly deep: boolean; readonly param: string; readonly openApiName: string };

export interface TemplateVariable {
  /** Field names as written in the template, e.g. `["event", "id"]`. */
  readonly fieldPath: readonly string[];
  readonly parts: readonly PatternPart[];
}

export interface PathTemplate {
  readonly source: string;
  /** Every segment of the path in order; wildcards belong to a variable. */
  readonly segments: readonly PatternPart[];
  readonly variables: readonly TemplateVariable[];
  /** The route for Fastify, e.g. `/v1/catalog/events/:p0`. */
  readonly fastifyUrl: string;
  /** The path for OpenAPI, e.g. `/v1/catalog/events/{event_id}`. */
  readonly openApiPath: string;
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

export function parsePathTemplate(source: string): PathTemplate {
  const fail = (why: string): never => {
    throw new TemplateError(`path template "${source}": ${why}`);
  };
  if (!source.startsWith("/")) fail("must start with /");
  const segments: PatternPart[] = [];
  const variables: TemplateVariable[] = [];
  let paramCount = 0;
  const wildcard = (deep: boolean, openApiName: string): PatternPart => ({
    kind: "wildcard",
    deep,
    param: deep ? "*" : `p${paramCount++}`,
    openApiName,
  });

  // Split on the slashes outside braces.
  const raw: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of source.slice(1)) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (depth < 0 || depth > 1) fail("unbalanced braces");
    if (ch === "/" && depth === 0) {
      raw.push(current);
      current = "";
    } else current += ch;
  }
  if (depth !== 0) fail("unbalanced braces");
  raw.push(current);

  for (const segment of raw) {
    if (segment.startsWith("{") && segment.endsWith("}")) {
      const inner = segment.slice(1, -1);
      const eq = inner.indexOf("=");
      const path = eq === -1 ? inner : inner.slice(0, eq);
      const fieldPath = path.split(".");
      if (!fieldPath.every((p) => IDENT.test(p))) fail(`bad field path "${path}"`);
      const pattern = eq === -1 ? ["*"] : inner.slice(eq + 1).split("/");
      const starCount = pattern.filter((p) => p === "*" || p === "**").length;
      let star = 0;
      const parts = pattern.map((p): PatternPart => {
        if (p === "*" || p === "**") {
          star++;
          return wildcard(p === "**", starCount === 1 ? path : `${path}_${star}`);
        }
        if (!LITERAL.test(p)) fail(`bad segment "${p}" in variable ${path}`);
        return { kind: "literal", value: p };
      });
      variables.push({ fieldPath, parts });
      segments.push(...parts);
    } else {
      if (!LITERAL.test(segment)) fail(`unsupported segment "${segment}" (literals, and wildcards inside {variables} only)`);
      segments.push({ kind: "literal", value: segment });
    }
  }
  const deepAt = segments.findIndex((s) => s.kind === "wildcard" && s.deep);
  if (deepAt !== -1 && deepAt !== segments.length - 1) fail("** must be the last segment");

  const fastifyUrl = `/${segments.map((s) => (s.kind === "literal" ? s.value : s.deep ? "*" : `:${s.param}`)).join("/")}`;
  const openApiPath = `/${segments.map((s) => (s.kind === "literal" ? s.value : `{${s.openApiName}}`)).join("/")}`;
  return { source, segments, variables, fastifyUrl, openApiPath };
}

/** The value of a variable from the matched route parameters, e.g. `shelves/7` for `{name=shelves/*}`. */
export function variableValue(variable: TemplateVariable, params: Readonly<Record<string, string | undefined>>): string {
  return variable.parts.map((p) => (p.kind === "literal" ? p.value : (params[p.param] ?? ""))).join("/");
}
