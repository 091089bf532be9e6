// Reads protovalidate rules (`(buf.validate.field)`) from field descriptors,
// for the OpenAPI document. The extension is found among the contract's own
// file dependencies, so the gateway needs no import of protovalidate.
import { type DescExtension, type DescField, type DescFile, getOption, hasOption, type JsonObject, toJson } from "@bufbuild/protobuf";

const FIELD_RULES = "buf.validate.field";
const extensions = new WeakMap<DescFile, DescExtension | undefined>();

/** The field's rules in proto3 JSON form, e.g. `{ string: { minLen: "1", maxLen: "200" } }`. */
export function fieldRulesOf(field: DescField): JsonObject | undefined {
  const extension = extensionFor(field.parent.file);
  if (extension === undefined || extension.fieldKind !== "message") return undefined;
  if (!hasOption(field, extension)) return undefined;
  const rules = toJson(extension.message, getOption(field, extension) as never);
  return typeof rules === "object" && rules !== null && !Array.isArray(rules) ? rules : undefined;
}

function extensionFor(file: DescFile): DescExtension | undefined {
  if (extensions.has(file)) return extensions.get(file);
  const seen = new Set<DescFile>();
  const search = (f: DescFile): DescExtension | undefined => {
    if (seen.has(f)) return undefined;
    seen.add(f);
    const own = f.extensions.find((e) => e.typeName === FIELD_RULES);
    if (own !== undefined) return own;
    for (const dependency of f.dependencies) {
      const found = search(dependency);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const extension = search(file);
  extensions.set(file, extension);
  return extension;
}
