// Test-only: a small contract whose methods carry every kind of access option,
// built from a descriptor at run time so the policy tests do not depend on
// what the product contracts happen to declare.
import { create, type DescService, setExtension } from "@bufbuild/protobuf";
import { createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_empty, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { optionsV1 } from "@flotilla/contracts";

function methodOptions(access: { public?: boolean; permissions?: string[]; internal?: boolean; callers?: string[] } | undefined) {
  const options = create(MethodOptionsSchema);
  if (access) setExtension(options, optionsV1.access, create(optionsV1.AccessSchema, access));
  return options;
}

const methods = {
  Open: undefined,
  Browse: { public: true },
  Settle: { internal: true, callers: ["billing"] },
  Purge: { internal: true },
  Publish: { permissions: ["catalog:write"] },
  Audit: { internal: true, callers: ["billing"], permissions: ["audit:read"] },
};

const file = create(FileDescriptorProtoSchema, {
  name: "flotilla/probe/v1/probe.proto",
  package: "flotilla.probe.v1",
  syntax: "proto3",
  dependency: ["google/protobuf/empty.proto"],
  service: [
    {
      name: "ProbeService",
      method: Object.entries(methods).map(([name, access]) => ({
        name,
        inputType: ".google.protobuf.Empty",
        outputType: ".google.protobuf.Empty",
        options: methodOptions(access),
      })),
    },
  ],
});

/** `flotilla.probe.v1.ProbeService`, served by the service named `probe`. */
export const ProbeService: DescService = createFileRegistry(file, (name) => (name === "google/protobuf/empty.proto" ? file_google_protobuf_empty : undefined)).getService(
  "flotilla.probe.v1.ProbeService",
) as DescService;

/** Handlers answering Empty for every method. */
export function probeHandlers() {
  const handlers: Record<string, () => Promise<object>> = {};
  for (const m of ProbeService.methods) handlers[m.localName] = async () => ({});
  return handlers as never;
}
