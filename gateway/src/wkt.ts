// Well-known types whose proto3 JSON form is not an object.

/** Wrappers: the JSON form is the wrapped scalar, or null. */
export const WRAPPERS: ReadonlySet<string> = new Set([
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.Int32Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.DoubleValue",
  "google.protobuf.FloatValue",
  "google.protobuf.BoolValue",
]);

/** Types a single path or query string can set. */
export const STRING_LIKE: ReadonlySet<string> = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  ...WRAPPERS,
]);
