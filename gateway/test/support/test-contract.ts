// A contract built in memory for the tests, exercising what the catalog does
// not: nested path fields, `{name=shelves/*}`, `body: "field"`, PATCH/PUT/
// DELETE, additional bindings, booleans, enums, repeated and nested query
// parameters, maps, an internal method and a method without HTTP binding.
import { create, createFileRegistry, type DescService, type MessageInitShape, setExtension } from "@bufbuild/protobuf";
import {
  type DescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  type FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
  MethodOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import { googleApi, optionsV1 } from "@flotilla/contracts";
import { HttpRuleSchema } from "@flotilla/contracts/gen/google/api/http_pb.js";

type Field = MessageInitShape<typeof FieldDescriptorProtoSchema>;
type Message = MessageInitShape<typeof DescriptorProtoSchema>;

// protoc always fills json_name; protobuf-es relies on it.
const scalar = (name: string, number: number, type: Type, repeated = false): Field => ({
  name,
  jsonName: protoCamelCase(name),
  number,
  type,
  label: repeated ? Label.REPEATED : Label.OPTIONAL,
});
const ref = (name: string, number: number, type: Type.MESSAGE | Type.ENUM, typeName: string, repeated = false): Field => ({
  ...scalar(name, number, type, repeated),
  typeName,
});

const messages: Message[] = [
  {
    name: "Thing",
    field: [
      scalar("id", 1, Type.STRING),
      scalar("name", 2, Type.STRING),
      scalar("active", 3, Type.BOOL),
      scalar("tags", 4, Type.STRING, true),
      ref("color", 5, Type.ENUM, ".test.v1.Color"),
      scalar("count", 6, Type.INT64),
      ref("inner", 7, Type.MESSAGE, ".test.v1.Inner"),
      ref("labels", 8, Type.MESSAGE, ".test.v1.Thing.LabelsEntry", true),
      ref("at", 9, Type.MESSAGE, ".google.protobuf.Timestamp"),
    ],
    nestedType: [
      { name: "LabelsEntry", field: [scalar("key", 1, Type.STRING), scalar("value", 2, Type.STRING)], options: { mapEntry: true } },
    ],
  },
  { name: "Inner", field: [scalar("city", 1, Type.STRING), scalar("level", 2, Type.INT32)] },
  { name: "GetThingRequest", field: [ref("thing", 1, Type.MESSAGE, ".test.v1.Thing")] },
  {
    name: "SearchRequest",
    field: [
      scalar("active", 1, Type.BOOL),
      scalar("tags", 2, Type.STRING, true),
      ref("color", 3, Type.ENUM, ".test.v1.Color"),
      ref("inner", 4, Type.MESSAGE, ".test.v1.Inner"),
      ref("after", 5, Type.MESSAGE, ".google.protobuf.Timestamp"),
      ref("colors", 6, Type.ENUM, ".test.v1.Color", true),
      scalar("min_count", 7, Type.INT64),
    ],
  },
  { name: "SearchResponse", field: [ref("things", 1, Type.MESSAGE, ".test.v1.Thing", true)] },
  { name: "GetShelfRequest", field: [scalar("name", 1, Type.STRING)] },
  { name: "UpdateThingRequest", field: [ref("thing", 1, Type.MESSAGE, ".test.v1.Thing"), scalar("dry_run", 2, Type.BOOL)] },
  { name: "PutThingRequest", field: [scalar("shelf_id", 1, Type.STRING), ref("thing", 2, Type.MESSAGE, ".test.v1.Thing")] },
  { name: "DeleteThingRequest", field: [scalar("id", 1, Type.STRING), scalar("force", 2, Type.BOOL)] },
  { name: "Empty" },
];

const http = (rule: MessageInitShape<typeof HttpRuleSchema>) => {
  const options = create(MethodOptionsSchema);
  setExtension(options, googleApi.http, create(HttpRuleSchema, rule));
  return options;
};
const withAccess = (options: ReturnType<typeof http>, access: MessageInitShape<typeof optionsV1.AccessSchema>) => {
  setExtension(options, optionsV1.access, create(optionsV1.AccessSchema, access));
  return options;
};

const file = create(FileDescriptorProtoSchema, {
  name: "test/v1/test.proto",
  package: "test.v1",
  syntax: "proto3",
  dependency: ["google/api/annotations.proto", "flotilla/options/v1/options.proto", "google/protobuf/timestamp.proto"],
  enumType: [
    {
      name: "Color",
      value: [
        { name: "COLOR_UNSPECIFIED", number: 0 },
        { name: "COLOR_RED", number: 1 },
        { name: "COLOR_BLUE", number: 2 },
      ],
    },
  ],
  messageType: messages,
  service: [
    {
      name: "ThingService",
      method: [
        {
          name: "GetThing",
          inputType: ".test.v1.GetThingRequest",
          outputType: ".test.v1.Thing",
          options: withAccess(
            http({ pattern: { case: "get", value: "/v1/things/{thing.id}" }, additionalBindings: [{ pattern: { case: "get", value: "/v1/items/{thing.id}" } }] }),
            { public: true },
          ),
        },
        {
          name: "Search",
          inputType: ".test.v1.SearchRequest",
          outputType: ".test.v1.SearchResponse",
          options: withAccess(http({ pattern: { case: "get", value: "/v1/things" } }), { public: true }),
        },
        {
          name: "GetShelf",
          inputType: ".test.v1.GetShelfRequest",
          outputType: ".test.v1.Thing",
          options: http({ pattern: { case: "get", value: "/v1/{name=shelves/*}" } }),
        },
        {
          name: "UpdateThing",
          inputType: ".test.v1.UpdateThingRequest",
          outputType: ".test.v1.Thing",
          options: http({ pattern: { case: "patch", value: "/v1/things/{thing.id}" }, body: "thing" }),
        },
        {
          name: "PutThing",
          inputType: ".test.v1.PutThingRequest",
          outputType: ".test.v1.Thing",
          options: http({ pattern: { case: "put", value: "/v1/shelves/{shelf_id}/things" }, body: "*" }),
        },
        {
          name: "DeleteThing",
          inputType: ".test.v1.DeleteThingRequest",
          outputType: ".test.v1.Empty",
          options: withAccess(http({ pattern: { case: "delete", value: "/v1/things/{id}" } }), { permissions: ["things.delete"] }),
        },
        {
          name: "Reindex",
          inputType: ".test.v1.Empty",
          outputType: ".test.v1.Empty",
          options: withAccess(http({ pattern: { case: "post", value: "/v1/reindex" }, body: "*" }), { internal: true }),
        },
        { name: "NoHttp", inputType: ".test.v1.Empty", outputType: ".test.v1.Empty" },
      ],
    },
  ],
});

const dependencies = {
  "google/api/annotations.proto": googleApi.file_google_api_annotations,
  "flotilla/options/v1/options.proto": optionsV1.file_flotilla_options_v1_options,
  "google/protobuf/timestamp.proto": file_google_protobuf_timestamp,
} as const;

const registry = createFileRegistry(file, (name) => dependencies[name as keyof typeof dependencies]);

export const ThingService: DescService = registry.getService("test.v1.ThingService")!;
export const testTypes = registry;

/** A one-method service (`test.v1.OneService/Call`, input `GetThingRequest`) bound by the given rule. */
export function serviceWithRule(rule: MessageInitShape<typeof HttpRuleSchema>): DescService {
  const one = create(FileDescriptorProtoSchema, {
    name: "test/v1/one.proto",
    package: "test.v1",
    syntax: "proto3",
    dependency: ["test/v1/test.proto"],
    service: [{ name: "OneService", method: [{ name: "Call", inputType: ".test.v1.GetThingRequest", outputType: ".test.v1.Empty", options: http(rule) }] }],
  });
  const files = createFileRegistry(one, (name) => (name === "test/v1/test.proto" ? registry.getFile(name) : undefined));
  return files.getService("test.v1.OneService")!;
}
