// PostgreSQL's `text` cannot hold U+0000 (and `jsonb` refuses `\u0000`), so a
// request string carrying one would reach the database and fail there as an
// internal error. The router refuses it up front, for every service, naming the
// field as protovalidate does. The walk follows the descriptor, not the object,
// so it allocates nothing on the hot path.
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

/** The field path (proto names) of the first string in `message` that holds U+0000, if any. */
export function nulStringField(desc: DescMessage, message: object, path = ""): string | undefined {
  const record = message as Record<string, unknown>;
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      const chosen = record[member.localName] as { case?: string; value?: unknown } | undefined;
      if (chosen?.case === undefined) continue;
      const field = member.fields.find((f) => f.localName === chosen.case);
      const found = field && checkField(field, chosen.value, path);
      if (found !== undefined) return found;
      continue;
    }
    const found = checkField(member, record[member.localName], path);
    if (found !== undefined) return found;
  }
  return undefined;
}

function checkField(field: DescField, value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const name = path === "" ? field.name : `${path}.${field.name}`;
  switch (field.fieldKind) {
    case "scalar":
      return field.scalar === ScalarType.STRING && hasNul(value) ? name : undefined;
    case "message":
      return nulStringField(field.message, value as object, name);
    case "list": {
      const items = value as readonly unknown[];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (field.listKind === "scalar" && field.scalar === ScalarType.STRING && hasNul(item)) return `${name}[${i}]`;
        if (field.listKind === "message") {
          const found = nulStringField(field.message, item as object, `${name}[${i}]`);
          if (found !== undefined) return found;
        }
      }
      return undefined;
    }
    case "map":
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (hasNul(key)) return name;
        const at = `${name}["${key}"]`;
        if (field.mapKind === "scalar" && field.scalar === ScalarType.STRING && hasNul(item)) return at;
        if (field.mapKind === "message") {
          const found = nulStringField(field.message, item as object, at);
          if (found !== undefined) return found;
        }
      }
      return undefined;
    default:
      return undefined;
  }
}

const hasNul = (value: unknown): boolean => typeof value === "string" && value.includes("\u0000");
