// Prints a FileDescriptorProto back as .proto source: declarations only
// (messages, enums, fields, oneofs, extensions, extension ranges), no options.
//
// Why: buf compiles imports from source, and @bufbuild/protovalidate ships
// buf/validate/validate.proto only as a compiled descriptor. The printed file
// declares the same names and field numbers, which is all our contracts need
// to compile; the rules are interpreted at run time by protovalidate from its
// own descriptor, so the options (CEL expressions) do not need to be printed.
import type {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { isFieldSet } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FieldDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

const scalarNames: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

const MAX_FIELD_NUMBER = 536870911;

export function printProto(file: FileDescriptorProto): string {
  const out: string[] = [];
  const syntax = file.syntax === "" ? "proto2" : file.syntax;
  if (syntax === "editions") throw new Error(`${file.name}: editions files are not supported by this printer`);
  out.push(`// Generated from the descriptor of ${file.name}; declarations only.`);
  out.push(`syntax = "${syntax}";`, "");
  if (file.package) out.push(`package ${file.package};`, "");
  for (const dep of file.dependency) out.push(`import "${dep}";`);
  out.push("");
  for (const e of file.enumType) printEnum(out, e, "");
  for (const m of file.messageType) printMessage(out, m, "", syntax, file);
  printExtensions(out, file.extension, "", syntax);
  return `${out.join("\n")}\n`;
}

function printEnum(out: string[], e: EnumDescriptorProto, indent: string): void {
  out.push(`${indent}enum ${e.name} {`);
  for (const v of e.value) out.push(`${indent}  ${v.name} = ${v.number};`);
  out.push(`${indent}}`);
}

function printMessage(out: string[], m: DescriptorProto, indent: string, syntax: string, file: FileDescriptorProto): void {
  const inner = `${indent}  `;
  out.push(`${indent}message ${m.name} {`);
  for (const e of m.enumType) printEnum(out, e, inner);
  const mapEntries = new Set(m.nestedType.filter((n) => n.options?.mapEntry).map((n) => n.name));
  for (const n of m.nestedType) if (!mapEntries.has(n.name)) printMessage(out, n, inner, syntax, file);
  const oneofOf = (f: FieldDescriptorProto) => (isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) ? f.oneofIndex : -1);
  const realOneofs = m.oneofDecl.map((_, i) => m.field.some((f) => oneofOf(f) === i && !f.proto3Optional));
  for (const f of m.field) {
    if (realOneofs[oneofOf(f)]) continue;
    out.push(`${inner}${fieldLine(f, m, syntax)}`);
  }
  m.oneofDecl.forEach((o, i) => {
    if (!realOneofs[i]) return;
    out.push(`${inner}oneof ${o.name} {`);
    for (const f of m.field.filter((x) => oneofOf(x) === i)) out.push(`${inner}  ${fieldLine(f, m, "oneof")}`);
    out.push(`${inner}}`);
  });
  for (const r of m.extensionRange) out.push(`${inner}extensions ${r.start} to ${r.end - 1 >= MAX_FIELD_NUMBER ? "max" : r.end - 1};`);
  for (const r of m.reservedRange) out.push(`${inner}reserved ${r.start} to ${r.end - 1};`);
  if (m.reservedName.length > 0) out.push(`${inner}reserved ${m.reservedName.map((n) => `"${n}"`).join(", ")};`);
  printExtensions(out, m.extension, inner, syntax);
  out.push(`${indent}}`);
}

function printExtensions(out: string[], exts: FieldDescriptorProto[], indent: string, syntax: string): void {
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const x of exts) byExtendee.set(x.extendee, [...(byExtendee.get(x.extendee) ?? []), x]);
  for (const [extendee, fields] of byExtendee) {
    out.push(`${indent}extend ${extendee} {`);
    for (const f of fields) out.push(`${indent}  ${fieldLine(f, undefined, syntax)}`);
    out.push(`${indent}}`);
  }
}

function fieldLine(f: FieldDescriptorProto, owner: DescriptorProto | undefined, syntax: string): string {
  const type = typeName(f, owner);
  let label = "";
  if (!type.startsWith("map<") && syntax !== "oneof") {
    if (f.label === FieldDescriptorProto_Label.REPEATED) label = "repeated ";
    else if (f.label === FieldDescriptorProto_Label.REQUIRED) label = "required ";
    else if (syntax === "proto2" || f.proto3Optional) label = "optional ";
  }
  const options: string[] = [];
  if (isFieldSet(f, FieldDescriptorProtoSchema.field.defaultValue)) {
    const quoted = f.type === FieldDescriptorProto_Type.STRING || f.type === FieldDescriptorProto_Type.BYTES;
    options.push(`default = ${quoted ? JSON.stringify(f.defaultValue) : f.defaultValue}`);
  }
  if (isFieldSet(f, FieldDescriptorProtoSchema.field.jsonName) && f.jsonName !== lowerCamel(f.name) && f.extendee === "") {
    options.push(`json_name = "${f.jsonName}"`);
  }
  const suffix = options.length > 0 ? ` [${options.join(", ")}]` : "";
  return `${label}${type} ${f.name} = ${f.number}${suffix};`;
}

function typeName(f: FieldDescriptorProto, owner: DescriptorProto | undefined): string {
  if (f.type === FieldDescriptorProto_Type.MESSAGE || f.type === FieldDescriptorProto_Type.ENUM || f.type === FieldDescriptorProto_Type.GROUP) {
    const entry = owner?.nestedType.find((n) => n.options?.mapEntry && f.typeName.endsWith(`.${n.name}`));
    if (entry && f.label === FieldDescriptorProto_Label.REPEATED) {
      const [k, v] = entry.field;
      if (!k || !v) throw new Error(`map entry ${entry.name} lacks key or value`);
      return `map<${typeName(k, undefined)}, ${typeName(v, undefined)}>`;
    }
    return f.typeName; // fully qualified, with the leading dot
  }
  const name = scalarNames[f.type];
  if (!name) throw new Error(`field ${f.name}: unsupported type ${f.type}`);
  return name;
}

function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
