// PostgreSQL's `text` cannot hold U+0000 (and `jsonb` refuses `\u0000`), so a
// request string carrying one would fail in the database as an internal
// error. Every handler's request is checked first, and the client gets an
// invalid_argument naming the field. Every service on PostgreSQL needs this;
// it belongs with the chassis's request validation, and can move there.

/** The field path (proto names) of the first string in a request that holds U+0000. */
export function nulFieldOf(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path || "(request)" : undefined;
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulFieldOf(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value)) {
    if (key.startsWith("$")) continue;
    // A protobuf-es oneof is `{ case, value }`: the path names the chosen field, as protovalidate does.
    const oneof = isOneof(inner) ? inner : undefined;
    const found = oneof ? nulFieldOf(oneof.value, join(path, oneof.case)) : nulFieldOf(inner, join(path, key));
    if (found !== undefined) return found;
  }
  return undefined;
}

function isOneof(value: unknown): value is { case: string; value: unknown } {
  return typeof value === "object" && value !== null && !("$typeName" in value) && typeof (value as { case?: unknown }).case === "string" && "value" in value;
}

const join = (path: string, key: string) => {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return path === "" ? snake : `${path}.${snake}`;
};

/**
 * The same unary handlers, each refusing a request with U+0000 in any string
 * before it runs. `refuse` builds the service's typed error for the field.
 */
export function refusingNul<H extends object>(handlers: H, refuse: (field: string) => Error): H {
  const guarded: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    guarded[name] = async (req: unknown, ctx: unknown) => {
      const field = nulFieldOf(req);
      if (field !== undefined) throw refuse(field);
      return (handler as (req: unknown, ctx: unknown) => unknown)(req, ctx);
    };
  }
  return guarded as H;
}
